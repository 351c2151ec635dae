// Package warcfile writes fetches as WARC 1.1 records (ISO 28500:2017)
// through the National Library of Norway's gowarc: one gzip member per
// record, a warcinfo record opening every file, files rotated by size. The
// master's WARC sink and a worker archiving its own fetches (warc_writer)
// write the same records with it.
package warcfile

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nlnwa/gowarc"

	"github.com/spyder-crawl/spyder/crawluri"
)

// Options configures a Writer.
type Options struct {
	Dir         string // created if missing
	Prefix      string // of the file names
	MaxFileSize int64  // bytes before a file is closed and the next begun
	Software    string // for the warcinfo records
	// Files is how many files are open at once (gowarc writes each from
	// a goroutine of its own; see gowarcCalls); at least 1.
	Files int
}

// Writer writes exchanges to the WARC files of one directory. Its Write
// may be called from several goroutines.
type Writer struct {
	opts Options
	w    *gowarc.WarcFileWriter
}

// New opens a writer in opts.Dir, creating the directory.
func New(opts Options) (*Writer, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("WARC directory: %w", err)
	}
	host, _ := os.Hostname()
	w := gowarc.NewWarcFileWriter(
		gowarc.WithCompression(true),
		gowarc.WithMaxFileSize(opts.MaxFileSize),
		gowarc.WithMaxConcurrentWriters(max(opts.Files, 1)),
		gowarc.WithAddWarcConcurrentToHeader(true),
		gowarc.WithFileNameGenerator(&gowarc.PatternNameGenerator{Directory: opts.Dir, Prefix: opts.Prefix}),
		gowarc.WithWarcInfoFunc(func(b gowarc.WarcRecordBuilder) error {
			b.AddWarcHeader(gowarc.ContentType, "application/warc-fields")
			_, err := fmt.Fprintf(b, "software: %s\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\nhostname: %s\r\n", opts.Software, host)
			return err
		}),
	)
	return &Writer{opts: opts, w: w}, nil
}

// Dir is the directory the writer writes to.
func (w *Writer) Dir() string { return w.opts.Dir }

// gowarcCalls serializes every use of gowarc in the process: each of its
// record builders sets google/uuid's package-wide pool switch
// (uuid.EnableRandPool), which every record id reads, and a file writer
// builds its warcinfo record inside Write whenever it begins a file: a
// data race when fetchers archive at once (found by the race detector).
// One process compresses one record at a time; a worker's fetches are
// written in turn.
var gowarcCalls sync.Mutex

// Exchange is what the records of one fetch are made of.
type Exchange struct {
	Target    string // the URL fetched
	Status    int16
	Req, Rep  map[string]string // request and response headers
	Body      []byte            // decoded
	Truncated bool              // cut at max_content_length
}

// ExchangeOf is the exchange of a result, and whether it has one: results
// without an HTTP response (transport errors, 599; a worker's failure,
// 810; URLs robots.txt kept from being fetched, 910 and 911) have nothing
// to archive. The exchange shares the result's maps and body.
func ExchangeOf(c *crawluri.CrawlUri) (Exchange, bool) {
	if c.StatusCode < 100 || c.StatusCode >= crawluri.StatusTransportError || c.Error != "" {
		return Exchange{}, false
	}
	e := Exchange{Target: c.EffectiveURL, Status: c.StatusCode, Req: c.ReqHeader, Rep: c.RepHeader, Body: c.ContentBody,
		Truncated: c.Var(crawluri.VarTruncated) == crawluri.VarTrue}
	if e.Target == "" {
		e.Target = c.URL
	}
	return e, true
}

// Write writes the request and response records of e; when it returns,
// they are in the file (written to the operating system, which a kill of
// the process does not lose).
//
// The worker holds the decoded body and the response headers as a map,
// so the response record is rebuilt from them: the status line, the
// headers in name order without the transfer codings the body no longer
// has (Content-Encoding, Transfer-Encoding), and a Content-Length that
// matches the body. A body cut at max_content_length is marked with
// WARC-Truncated: length.
func (w *Writer) Write(e Exchange) error {
	u, err := url.Parse(e.Target)
	if err != nil {
		return fmt.Errorf("WARC: %s: %w", e.Target, err)
	}
	now := time.Now().UTC()

	gowarcCalls.Lock()
	defer gowarcCalls.Unlock()
	req := gowarc.NewRecordBuilder(gowarc.Request, gowarc.WithFixContentLength(true), gowarc.WithFixDigest(true))
	resp := gowarc.NewRecordBuilder(gowarc.Response, gowarc.WithFixContentLength(true), gowarc.WithFixDigest(true))
	req.AddWarcHeader(gowarc.WarcTargetURI, e.Target)
	req.AddWarcHeaderTime(gowarc.WarcDate, now)
	req.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=request")
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	writeHeaders(&b, e.Req, "Host")
	b.WriteString("\r\n")
	if _, err := req.WriteString(b.String()); err != nil {
		return err
	}

	resp.AddWarcHeader(gowarc.WarcTargetURI, e.Target)
	resp.AddWarcHeaderTime(gowarc.WarcDate, now)
	resp.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=response")
	if e.Truncated {
		resp.AddWarcHeader(gowarc.WarcTruncated, "length")
	}
	b.Reset()
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", e.Status, http.StatusText(int(e.Status)))
	writeHeaders(&b, e.Rep, "Content-Encoding", "Transfer-Encoding", "Content-Length")
	fmt.Fprintf(&b, "Content-Length: %s\r\n\r\n", strconv.Itoa(len(e.Body)))
	if _, err := resp.WriteString(b.String()); err != nil {
		return err
	}
	if _, err := resp.Write(e.Body); err != nil {
		return err
	}

	var records []gowarc.WarcRecord
	for _, rb := range []gowarc.WarcRecordBuilder{req, resp} {
		r, _, err := rb.Build()
		if err != nil {
			return fmt.Errorf("WARC record for %s: %w", e.Target, err)
		}
		defer r.Close()
		records = append(records, r)
	}
	var errs []error
	for _, res := range w.w.Write(records...) {
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing WARC records for %s: %w", e.Target, err)
	}
	return nil
}

// writeHeaders writes h in name order, leaving out the names in skip.
func writeHeaders(b *strings.Builder, h map[string]string, skip ...string) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		drop := false
		for _, s := range skip {
			drop = drop || strings.EqualFold(k, s)
		}
		if !drop && !strings.ContainsAny(k+h[k], "\r\n") {
			fmt.Fprintf(b, "%s: %s\r\n", k, h[k])
		}
	}
}

// Close finishes the open files (renamed from their .open names).
func (w *Writer) Close() error {
	gowarcCalls.Lock()
	defer gowarcCalls.Unlock()
	return w.w.Close()
}
