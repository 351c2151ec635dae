// crawllog.go: the crawl log (output_crawl_log), one line per result in
// the layout of Heritrix's crawl.log, which its users' tools read.

package master

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// CrawlLogSink writes one line per result, space-separated as Heritrix's
// crawl.log is:
//
//	time status size URL hop-path via type worker fetch-start+ms digest - annotations
//
// time is when the result was logged (UTC, ms); status the HTTP status or
// spyder's code (599 a transport error, 910 disallowed by robots.txt);
// size the body's bytes; hop-path how the URL was found from a seed (L a
// link, R a redirect, M a sitemap; "-" a seed) and via the page it was
// found on; type the media type; fetch-start the fetch's start
// (yyyyMMddHHmmssSSS) and its duration in ms; digest the payload's SHA-1
// ("sha1:" and base 32, as in the WARC files); annotations what else
// there is to say (truncated, skipped:content_type, revisit, the error).
// Missing fields are "-". A line is written when the result is, so the
// log resumes like the other line outputs (lineFile).
type CrawlLogSink struct {
	lineFile
	allResults
	buf []byte
}

// NewCrawlLogSink appends to (or creates) path.
func NewCrawlLogSink(path string) (*CrawlLogSink, error) {
	s := &CrawlLogSink{lineFile: lineFile{path: path, what: "crawl log"}}
	s.allResults.write = s.write
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("opening the crawl log: %w", err)
	}
	return s, nil
}

// NeedsBody implements BodyNeeder: the worker sends the digest
// (crawluri.VarWantDigest) and the size.
func (s *CrawlLogSink) NeedsBody() bool { return false }

// wantsDigest implements digestWanter.
func (s *CrawlLogSink) wantsDigest() bool { return true }

func (s *CrawlLogSink) write(c *crawluri.CrawlUri) error {
	now := time.Now().UTC()
	b := s.buf[:0]
	b = now.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = appendPadded(b, strconv.Itoa(int(c.StatusCode)), 5)
	b = append(b, ' ')
	b = appendPadded(b, strconv.FormatInt(c.BodySize(), 10), 10)
	b = append(b, ' ')
	b = append(b, field(c.URL)...)
	b = append(b, ' ')
	b = append(b, field(c.Var(crawluri.VarHopPath))...)
	b = append(b, ' ')
	b = append(b, field(c.Var(crawluri.VarVia))...)
	b = append(b, ' ')
	mt, _ := c.ContentType()
	b = append(b, field(mt)...)
	b = append(b, ' ')
	b = append(b, field(c.WorkerID)...)
	b = append(b, ' ')
	if c.ReqTime > 0 {
		took := time.Duration(c.ReqTime * float64(time.Second))
		b = now.Add(-took).AppendFormat(b, "20060102150405.000")
		b = append(b[:len(b)-4], b[len(b)-3:]...) // (no dot: yyyyMMddHHmmssSSS)
		b = append(b, '+')
		b = strconv.AppendInt(b, took.Milliseconds(), 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ' ')
	b = append(b, field(digestOf(c))...)
	b = append(b, " - "...)
	b = append(b, field(annotations(c))...)
	b = append(b, '\n')
	s.buf = b
	return s.writeLine(b)
}

// appendPadded appends v right-aligned in width columns.
func appendPadded(b []byte, v string, width int) []byte {
	for range width - len(v) {
		b = append(b, ' ')
	}
	return append(b, v...)
}

// field is v as one field of a line: "-" when empty, spaces and line
// breaks (which no URL has, but an error may) as underscores.
func field(v string) string {
	if v == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, v)
}

// digestOf is the payload's digest: the WARC capture's when the fetch
// was archived (the same payload), else the one the worker sent.
func digestOf(c *crawluri.CrawlUri) string {
	if c.WARCCapture != "" {
		if capture, err := warcfile.ParseCapture(c.WARCCapture); err == nil {
			return capture.PayloadDigest
		}
	}
	return c.Var(crawluri.VarDigest)
}

// annotations say what else there is to know of a result, comma-separated.
func annotations(c *crawluri.CrawlUri) string {
	var a []string
	if c.Var(crawluri.VarTruncated) == crawluri.VarTrue {
		a = append(a, "truncated")
	}
	if s := c.Var(crawluri.VarSkipped); s != "" {
		kind, _, _ := strings.Cut(s, ":")
		a = append(a, "skipped:"+kind)
	}
	if c.WARCRevisit {
		a = append(a, "revisit")
	}
	if c.Var(crawluri.VarSitemap) != "" {
		a = append(a, "sitemap")
	}
	if c.Error != "" {
		a = append(a, "error:"+c.Error)
	}
	return strings.Join(a, ",")
}

// allResults gives a sink that writes every result one way the four
// methods of Sink.
type allResults struct {
	write func(c *crawluri.CrawlUri) error
}

// ProcessSuccessfulCrawl implements Sink.
func (a allResults) ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error { return a.write(c) }

// ProcessRedirect implements Sink.
func (a allResults) ProcessRedirect(c *crawluri.CrawlUri) error { return a.write(c) }

// ProcessNotFound implements Sink.
func (a allResults) ProcessNotFound(c *crawluri.CrawlUri) error { return a.write(c) }

// ProcessServerError implements Sink.
func (a allResults) ProcessServerError(c *crawluri.CrawlUri) error { return a.write(c) }
