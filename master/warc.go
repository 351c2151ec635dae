// warc.go: the WARC sink: every response with its request, written by a
// goroutine of its own.

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
	"sync"
	"time"

	"github.com/nlnwa/gowarc"

	"github.com/spyder-crawl/spyder/crawluri"
)

// WARCSink writes every fetched response, with the request that fetched
// it, as WARC 1.1 records (ISO 28500:2017) through the National Library of
// Norway's gowarc: one gzip member per record, a warcinfo record opening
// every file, files rotated by size. Results without an HTTP response
// (transport errors, 599; URLs robots.txt kept from being fetched, 910 and
// 911) have nothing to archive and are skipped.
//
// The worker sends the decoded body and the response headers as a map,
// so the response record is rebuilt from them: the status line, the
// headers in name order without the transfer codings the body no longer
// has (Content-Encoding, Transfer-Encoding), and a Content-Length that
// matches the body. A body cut at max_content_length is marked with
// WARC-Truncated: length.
//
// Compressing and writing happen on a goroutine of the sink's own, fed
// through a bounded queue, so the master's loop does not wait for gzip;
// Flush (called before every group commit) waits for the queue to drain
// and reports the first write error since the last Flush.
type WARCSink struct {
	opts  WARCOptions
	w     *gowarc.WarcFileWriter
	queue chan warcItem
	done  chan struct{}

	mu      sync.Mutex
	pending int
	drained *sync.Cond
	err     error
}

// warcItem is what the writer needs of a result, taken when it is handed
// over: the master may change the result's status afterwards (a sink that
// fails turns it into a 710).
type warcItem struct {
	target    string
	status    int16
	req, rep  map[string]string
	body      []byte
	truncated bool
}

// warcQueue bounds the results waiting for the WARC writer.
const warcQueue = 256

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
	s := &WARCSink{opts: opts, w: newWARCWriter(opts), queue: make(chan warcItem, warcQueue), done: make(chan struct{})}
	s.drained = sync.NewCond(&s.mu)
	go s.run()
	return s, nil
}

func newWARCWriter(opts WARCOptions) *gowarc.WarcFileWriter {
	host, _ := os.Hostname()
	return gowarc.NewWarcFileWriter(
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
}

// Destination implements Destination.
func (s *WARCSink) Destination() string { return s.opts.Dir + "/" }

// Reopen implements Reopener: after a failed write the next records go to
// a new file (the failed one ends with a record cut short, which readers
// stop at). Called between Flushes, with nothing pending.
func (s *WARCSink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.w.Close() // the failure was reported already
	s.w, s.err = newWARCWriter(s.opts), nil
	return nil
}

func (s *WARCSink) run() {
	defer close(s.done)
	for it := range s.queue {
		err := s.write(it)
		s.mu.Lock()
		if err != nil && s.err == nil {
			s.err = err
		}
		s.pending--
		if s.pending == 0 {
			s.drained.Broadcast()
		}
		s.mu.Unlock()
	}
}

// enqueue hands a result to the writer goroutine.
func (s *WARCSink) enqueue(c *crawluri.CrawlUri) error {
	if c.StatusCode < 100 || c.StatusCode >= crawluri.StatusTransportError || c.Error != "" {
		return nil // no HTTP message to archive (599; 910/911 were never fetched)
	}
	it := warcItem{target: c.EffectiveURL, status: c.StatusCode, req: c.ReqHeader, rep: c.RepHeader, body: c.ContentBody,
		truncated: c.Var(crawluri.VarTruncated) == crawluri.VarTrue}
	if it.target == "" {
		it.target = c.URL
	}
	s.mu.Lock()
	err := s.err
	s.pending++
	s.mu.Unlock()
	s.queue <- it
	return err
}

// Flush implements Flusher: it returns once every result handed over so
// far is written, with the first error since the last Flush.
func (s *WARCSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending > 0 {
		s.drained.Wait()
	}
	err := s.err
	s.err = nil
	return err
}

func (s *WARCSink) write(it warcItem) error {
	target := it.target
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
	writeHeaders(&b, it.req, "Host")
	b.WriteString("\r\n")
	if _, err := req.WriteString(b.String()); err != nil {
		return err
	}

	resp := gowarc.NewRecordBuilder(gowarc.Response, gowarc.WithFixContentLength(true), gowarc.WithFixDigest(true))
	resp.AddWarcHeader(gowarc.WarcTargetURI, target)
	resp.AddWarcHeaderTime(gowarc.WarcDate, now)
	resp.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=response")
	if it.truncated {
		resp.AddWarcHeader(gowarc.WarcTruncated, "length")
	}
	b.Reset()
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", it.status, http.StatusText(int(it.status)))
	writeHeaders(&b, it.rep, "Content-Encoding", "Transfer-Encoding", "Content-Length")
	fmt.Fprintf(&b, "Content-Length: %s\r\n\r\n", strconv.Itoa(len(it.body)))
	if _, err := resp.WriteString(b.String()); err != nil {
		return err
	}
	if _, err := resp.Write(it.body); err != nil {
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
func (s *WARCSink) ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error { return s.enqueue(c) }

// ProcessRedirect implements Sink.
func (s *WARCSink) ProcessRedirect(c *crawluri.CrawlUri) error { return s.enqueue(c) }

// ProcessNotFound implements Sink.
func (s *WARCSink) ProcessNotFound(c *crawluri.CrawlUri) error { return s.enqueue(c) }

// ProcessServerError implements Sink.
func (s *WARCSink) ProcessServerError(c *crawluri.CrawlUri) error { return s.enqueue(c) }

// Close implements Sink: what is queued is written, the open file is
// finished and renamed.
func (s *WARCSink) Close() error {
	close(s.queue)
	<-s.done
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	return errors.Join(err, s.w.Close())
}
