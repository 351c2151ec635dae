// record.go: WARC records rendered, digested and compressed, one gzip
// member each.

package warcfile

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"io"
	"net/http"
	"net/http/httputil"
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
	ip           string // WARC-IP-Address
	// profile, refersTo, refersToTarget and refersToDate: a revisit
	// record's WARC-Profile, WARC-Refers-To, WARC-Refers-To-Target-URI
	// and WARC-Refers-To-Date.
	profile, refersTo, refersToTarget, refersToDate string
	// payloadDigest is the WARC-Payload-Digest of a record whose block
	// holds an HTTP payload.
	payloadDigest string
	head, body    []byte
}

// profileServerNotModified is the WARC-Profile of a revisit record of a
// 304 Not Modified.
const profileServerNotModified = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

// warcDate is WARC 1.1's WARC-Date layout (W3C ISO 8601, UTC).
const warcDate = "2006-01-02T15:04:05Z"

// exchangeRecords renders and compresses the request and response records
// of e, made at now: of the exchange as it was recorded on the wire when it
// was (RawResponse), else rebuilt from the parsed exchange.
func (w *Writer) exchangeRecords(e Exchange, u *url.URL, now time.Time) (*fetchRecords, error) {
	if !e.Date.IsZero() {
		now = e.Date
	}
	date := now.Format(warcDate)
	reqID, respID := recordID(), e.RecordID
	if respID == "" {
		respID = recordID()
	}
	resp := record{typ: "response", date: date, id: respID, target: e.Target, concurrentTo: reqID, ip: e.IP,
		contentType: "application/http;msgtype=response", truncated: e.Truncated}
	var req []byte
	if len(e.RawResponse) > 0 {
		req, resp.body = e.RawRequest, e.RawResponse
	} else {
		req = rebuiltRequest(e, u)
		resp.head = rebuiltResponseHead(e)
		resp.body = e.Body
	}
	payload, complete := e.payloadDigest()
	resp.payloadDigest = payload
	resp.truncated = resp.truncated || !complete
	if len(req) == 0 {
		req = rebuiltRequest(e, u)
	}
	if e.Status == http.StatusNotModified {
		// The server answered a conditional request that the page has
		// not changed: a revisit record of the 304's head (WARC 1.1,
		// 6.7.3), which has no payload to digest, naming the URL whose
		// earlier capture it confirms.
		resp.typ, resp.profile, resp.refersToTarget, resp.payloadDigest = "revisit", profileServerNotModified, e.Target, ""
		if c := e.RevisitOf; c != nil {
			resp.refersTo, resp.refersToTarget, resp.refersToDate = c.RecordID, c.TargetURI, c.Date.UTC().Format(warcDate)
		}
	} else if e.RevisitOf != nil {
		revisitOfPayload(&resp, e)
	}

	recs := fetchBufs.Get().(*fetchRecords)
	gz := w.gzipWriter()
	defer w.gzips.Put(gz)
	for _, r := range []record{
		{typ: "request", date: date, id: reqID, target: e.Target, concurrentTo: respID,
			contentType: "application/http;msgtype=request", head: req},
		resp,
	} {
		if err := writeRecord(&recs.buf, gz, &r); err != nil {
			recs.release()
			return nil, err
		}
	}
	return recs, nil
}

// rebuiltRequest is the head of e's request as net/http would have sent
// it, from its headers.
func rebuiltRequest(e Exchange, u *url.URL) []byte {
	var req bytes.Buffer
	req.WriteString("GET ")
	req.WriteString(u.RequestURI())
	req.WriteString(" HTTP/1.1\r\nHost: ")
	req.WriteString(u.Host)
	req.WriteString("\r\n")
	writeHeaders(&req, e.Req, "Host")
	req.WriteString("\r\n")
	return req.Bytes()
}

// rebuiltResponseHead is a response head for e's decoded body: its status
// line, its headers in name order without the codings the body no longer
// has, and a Content-Length that matches the body.
func rebuiltResponseHead(e Exchange) []byte {
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
	return rep.Bytes()
}

// recordedPayload is the WARC-Payload-Digest of a response recorded on the
// wire: of its entity body, after the transfer coding (chunked) is undone
// and with its content coding kept (WARC 1.1, 5.9; what Heritrix, warcprox
// and warcio compute). complete is false when the response was cut before
// its head ended or inside its chunking: then the digest, if any, is of
// the payload recorded.
func recordedPayload(raw []byte) (digest string, complete bool) {
	head, body, ok := splitHead(raw)
	if !ok {
		return "", false
	}
	if !chunked(head) {
		return sha1Digest(sha1.Sum(body)), true
	}
	h := sha1.New()
	_, err := io.Copy(h, httputil.NewChunkedReader(bytes.NewReader(body)))
	return sha1Digest([sha1.Size]byte(h.Sum(nil))), err == nil
}

// splitHead splits an HTTP message at the empty line that ends its head
// (CRLF CRLF, or the bare LF LF net/http accepts too).
func splitHead(msg []byte) (head, body []byte, ok bool) {
	i, n := bytes.Index(msg, []byte("\r\n\r\n")), 4
	if j := bytes.Index(msg, []byte("\n\n")); j >= 0 && (i < 0 || j < i) {
		i, n = j, 2
	}
	if i < 0 {
		return nil, nil, false
	}
	return msg[:i+n], msg[i+n:], true
}

// chunked reports whether a response head names the chunked transfer
// coding, last among its Transfer-Encoding values (RFC 9112, 6.1).
func chunked(head []byte) bool {
	last := ""
	for line := range bytes.Lines(head) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(name)), "Transfer-Encoding") {
			codings := strings.Split(string(value), ",")
			last = strings.ToLower(strings.TrimSpace(codings[len(codings)-1]))
		}
	}
	return last == "chunked"
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
	for _, f := range [...]struct{ name, value string }{
		{"WARC-Filename", r.filename},
		{"WARC-Target-URI", r.target},
		{"WARC-Concurrent-To", r.concurrentTo},
		{"WARC-Profile", r.profile},
		{"WARC-Refers-To", r.refersTo},
		{"WARC-Refers-To-Target-URI", r.refersToTarget},
		{"WARC-Refers-To-Date", r.refersToDate},
		{"WARC-IP-Address", r.ip},
	} {
		if f.value != "" {
			field(f.name, f.value)
		}
	}
	if r.truncated {
		field("WARC-Truncated", "length")
	}
	field("Content-Type", r.contentType)
	if r.payloadDigest != "" {
		field("WARC-Payload-Digest", r.payloadDigest)
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

// BodyDigest is the digest of a body as WARC files and crawl logs give it.
func BodyDigest(body []byte) string { return sha1Digest(sha1.Sum(body)) }

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
