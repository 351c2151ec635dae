package master

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nlnwa/gowarc"

	"github.com/spyder-crawl/spyder/crawluri"
)

// WARCSink writes every fetched response, with the request that fetched
// it, as WARC 1.1 records (ISO 28500:2017) through the National Library of
// Norway's gowarc: one gzip member per record, a warcinfo record opening
// every file, files rotated by size. Results without an HTTP response
// (transport errors, 599) have nothing to archive and are skipped.
//
// The worker sends the decoded body and the response headers as a map,
// so the response record is rebuilt from them: the status line, the
// headers in name order without the transfer codings the body no longer
// has (Content-Encoding, Transfer-Encoding), and a Content-Length that
// matches the body. A body cut at max_content_length is marked with
// WARC-Truncated: length.
type WARCSink struct {
	w *gowarc.WarcFileWriter
}

// WARCOptions configures a WARCSink.
type WARCOptions struct {
	Dir         string // created if missing
	Prefix      string // of the file names
	MaxFileSize int64  // bytes before a file is closed and the next begun
	Software    string // for the warcinfo records
}

// NewWARCSink opens a WARC writer in opts.Dir.
func NewWARCSink(opts WARCOptions) (*WARCSink, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("WARC directory: %w", err)
	}
	host, _ := os.Hostname()
	w := gowarc.NewWarcFileWriter(
		gowarc.WithCompression(true),
		gowarc.WithMaxFileSize(opts.MaxFileSize),
		gowarc.WithMaxConcurrentWriters(1),
		gowarc.WithAddWarcConcurrentToHeader(true),
		gowarc.WithFileNameGenerator(&gowarc.PatternNameGenerator{Directory: opts.Dir, Prefix: opts.Prefix}),
		gowarc.WithWarcInfoFunc(func(b gowarc.WarcRecordBuilder) error {
			b.AddWarcHeader(gowarc.ContentType, "application/warc-fields")
			_, err := fmt.Fprintf(b, "software: %s\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\nhostname: %s\r\n", opts.Software, host)
			return err
		}),
	)
	return &WARCSink{w: w}, nil
}

func (s *WARCSink) write(c *crawluri.CrawlUri) error {
	if c.StatusCode < 100 || c.StatusCode == crawluri.StatusTransportError || c.Error != "" {
		return nil
	}
	target := c.EffectiveURL
	if target == "" {
		target = c.URL
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("WARC: %s: %w", target, err)
	}
	now := time.Now().UTC()

	req := gowarc.NewRecordBuilder(gowarc.Request, gowarc.WithFixContentLength(true), gowarc.WithFixDigest(true))
	req.AddWarcHeader(gowarc.WarcTargetURI, target)
	req.AddWarcHeaderTime(gowarc.WarcDate, now)
	req.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=request")
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	writeHeaders(&b, c.ReqHeader, "Host")
	b.WriteString("\r\n")
	if _, err := req.WriteString(b.String()); err != nil {
		return err
	}

	resp := gowarc.NewRecordBuilder(gowarc.Response, gowarc.WithFixContentLength(true), gowarc.WithFixDigest(true))
	resp.AddWarcHeader(gowarc.WarcTargetURI, target)
	resp.AddWarcHeaderTime(gowarc.WarcDate, now)
	resp.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=response")
	if c.Var(crawluri.VarTruncated) == crawluri.VarTrue {
		resp.AddWarcHeader(gowarc.WarcTruncated, "length")
	}
	b.Reset()
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", c.StatusCode, http.StatusText(int(c.StatusCode)))
	writeHeaders(&b, c.RepHeader, "Content-Encoding", "Transfer-Encoding", "Content-Length")
	fmt.Fprintf(&b, "Content-Length: %s\r\n\r\n", strconv.Itoa(len(c.ContentBody)))
	if _, err := resp.WriteString(b.String()); err != nil {
		return err
	}
	if _, err := resp.Write(c.ContentBody); err != nil {
		return err
	}

	var records []gowarc.WarcRecord
	for _, rb := range []gowarc.WarcRecordBuilder{req, resp} {
		r, _, err := rb.Build()
		if err != nil {
			return fmt.Errorf("WARC record for %s: %w", target, err)
		}
		defer r.Close()
		records = append(records, r)
	}
	var errs []error
	for _, res := range s.w.Write(records...) {
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing WARC records for %s: %w", target, err)
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

// ProcessSuccessfulCrawl implements Sink.
func (s *WARCSink) ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error { return s.write(c) }

// ProcessRedirect implements Sink.
func (s *WARCSink) ProcessRedirect(c *crawluri.CrawlUri) error { return s.write(c) }

// ProcessNotFound implements Sink.
func (s *WARCSink) ProcessNotFound(c *crawluri.CrawlUri) error { return s.write(c) }

// ProcessServerError implements Sink.
func (s *WARCSink) ProcessServerError(c *crawluri.CrawlUri) error { return s.write(c) }

// Close implements Sink: the open file is finished and renamed.
func (s *WARCSink) Close() error { return s.w.Close() }
