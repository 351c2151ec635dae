// record.go: WARC records rendered, digested and compressed, one gzip
// member each.

package warcfile

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"
)

// fetchRecords are the gzip members of one fetch's records, in file order.
type fetchRecords struct{ buf bytes.Buffer }

// fetchBufs recycles the members' buffers: a fetch's records are written
// to the file and forgotten.
var fetchBufs = sync.Pool{New: func() any { return new(fetchRecords) }}

// release gives r back once its bytes are in the file; buffers of huge
// fetches are left to the GC rather than kept for small ones.
func (r *fetchRecords) release() {
	if r.buf.Cap() > 4<<20 {
		return
	}
	r.buf.Reset()
	fetchBufs.Put(r)
}

// record is one WARC record: its named fields and its block, made of head
// (an HTTP message head, a warcinfo's fields) and body.
type record struct {
	typ          string
	date         string
	id           string
	target       string
	concurrentTo string
	filename     string // warcinfo: the file it opens
	contentType  string
	truncated    bool
	// payload says the body is the HTTP payload: it gets a
	// WARC-Payload-Digest of its own.
	payload    bool
	head, body []byte
}

// warcDate is WARC 1.1's WARC-Date layout (W3C ISO 8601, UTC).
const warcDate = "2006-01-02T15:04:05Z"

// exchangeRecords renders and compresses the request and response records
// of e, made at now.
func (w *Writer) exchangeRecords(e Exchange, u *url.URL, now time.Time) (*fetchRecords, error) {
	date := now.Format(warcDate)
	reqID, respID := recordID(), recordID()

	var req bytes.Buffer
	req.WriteString("GET ")
	req.WriteString(u.RequestURI())
	req.WriteString(" HTTP/1.1\r\nHost: ")
	req.WriteString(u.Host)
	req.WriteString("\r\n")
	writeHeaders(&req, e.Req, "Host")
	req.WriteString("\r\n")

	var rep bytes.Buffer
	rep.WriteString("HTTP/1.1 ")
	rep.WriteString(strconv.Itoa(int(e.Status)))
	rep.WriteByte(' ')
	rep.WriteString(http.StatusText(int(e.Status)))
	rep.WriteString("\r\n")
	writeHeaders(&rep, e.Rep, "Content-Encoding", "Transfer-Encoding", "Content-Length")
	rep.WriteString("Content-Length: ")
	rep.WriteString(strconv.Itoa(len(e.Body)))
	rep.WriteString("\r\n\r\n")

	recs := fetchBufs.Get().(*fetchRecords)
	gz := w.gzipWriter()
	defer w.gzips.Put(gz)
	for _, r := range []record{
		{typ: "request", date: date, id: reqID, target: e.Target, concurrentTo: respID,
			contentType: "application/http;msgtype=request", head: req.Bytes()},
		{typ: "response", date: date, id: respID, target: e.Target, concurrentTo: reqID,
			contentType: "application/http;msgtype=response", truncated: e.Truncated, payload: true,
			head: rep.Bytes(), body: e.Body},
	} {
		if err := writeRecord(&recs.buf, gz, &r); err != nil {
			recs.release()
			return nil, err
		}
	}
	return recs, nil
}

// warcinfo is the compressed warcinfo record that opens file name.
func (w *Writer) warcinfo(name string, now time.Time) ([]byte, error) {
	fields := "software: " + w.opts.Software + "\r\n" +
		"format: WARC File Format 1.1\r\n" +
		"conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n" +
		"hostname: " + w.hostname + "\r\n"
	var out bytes.Buffer
	gz := w.gzipWriter()
	defer w.gzips.Put(gz)
	err := writeRecord(&out, gz, &record{typ: "warcinfo", date: now.Format(warcDate), id: recordID(), filename: name,
		contentType: "application/warc-fields", head: []byte(fields)})
	return out.Bytes(), err
}

// gzipWriter is a compressor at the writer's level, from its pool.
func (w *Writer) gzipWriter() *gzip.Writer {
	if gz, ok := w.gzips.Get().(*gzip.Writer); ok {
		return gz
	}
	gz, _ := gzip.NewWriterLevel(nil, w.opts.GzipLevel) // the level was checked by New
	return gz
}

// recordID is a new WARC-Record-ID.
func recordID() string { return "<urn:uuid:" + uuid.NewString() + ">" }

// writeRecord appends r to dst as one gzip member.
func writeRecord(dst *bytes.Buffer, gz *gzip.Writer, r *record) error {
	block := sha1.New()
	block.Write(r.head)
	block.Write(r.body)

	h := make([]byte, 0, 512)
	field := func(name, value string) {
		h = append(h, name...)
		h = append(h, ": "...)
		h = append(h, value...)
		h = append(h, "\r\n"...)
	}
	h = append(h, "WARC/1.1\r\n"...)
	field("WARC-Type", r.typ)
	field("WARC-Record-ID", r.id)
	field("WARC-Date", r.date)
	if r.filename != "" {
		field("WARC-Filename", r.filename)
	}
	if r.target != "" {
		field("WARC-Target-URI", r.target)
	}
	if r.concurrentTo != "" {
		field("WARC-Concurrent-To", r.concurrentTo)
	}
	if r.truncated {
		field("WARC-Truncated", "length")
	}
	field("Content-Type", r.contentType)
	if r.payload {
		field("WARC-Payload-Digest", sha1Digest(sha1.Sum(r.body)))
	}
	field("WARC-Block-Digest", sha1Digest([sha1.Size]byte(block.Sum(nil))))
	field("Content-Length", strconv.Itoa(len(r.head)+len(r.body)))
	h = append(h, "\r\n"...)

	gz.Reset(dst)
	for _, p := range [][]byte{h, r.head, r.body, []byte("\r\n\r\n")} {
		if _, err := gz.Write(p); err != nil {
			return err
		}
	}
	return gz.Close()
}

// sha1Digest is a digest as WARC files conventionally give it: the
// algorithm, then the SHA-1 in base 32 (which CDX indexes and
// deduplication compare).
func sha1Digest(sum [sha1.Size]byte) string {
	return "sha1:" + base32.StdEncoding.EncodeToString(sum[:])
}

// writeHeaders writes h in name order, leaving out the names in skip and
// any header a CR or LF would break out of its line.
func writeHeaders(b *bytes.Buffer, h map[string]string, skip ...string) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := h[k]
		if slices.ContainsFunc(skip, func(s string) bool { return strings.EqualFold(k, s) }) ||
			strings.ContainsAny(k, "\r\n:") || strings.ContainsAny(v, "\r\n") {
			continue
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
}
