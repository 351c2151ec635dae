// csvsink.go: the "title_csv" sink: one CSV row (url, status, title) per
// result, in the file the extra setting title_csv names.

package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
)

func init() {
	master.RegisterSink("title_csv", func(s *settings.Settings) (master.Sink, error) {
		path, ok := s.ExtraValue("title_csv")
		if !ok || path == "" {
			return nil, nil // nothing to write: the sink stays out
		}
		return newCSVSink(path)
	})
}

// csvSink appends rows to a CSV file; the header is written once, to a
// new or empty file, so that a resumed crawl appends to its own file.
type csvSink struct {
	path string
	f    *os.File
	w    *csv.Writer
}

func newCSVSink(path string) (*csvSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the title CSV (extra title_csv): %w", err)
	}
	s := &csvSink{path: path, f: f, w: csv.NewWriter(f)}
	if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
		_ = s.w.Write([]string{"url", "status", "title"})
	}
	return s, nil
}

// row writes one result, whatever its status: the four Process methods of
// master.Sink (by status class) all come here.
func (s *csvSink) row(c *crawluri.CrawlUri) error {
	return s.w.Write([]string{c.URL, strconv.Itoa(int(c.StatusCode)), c.Var(varTitle)})
}

func (s *csvSink) ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error { return s.row(c) }
func (s *csvSink) ProcessRedirect(c *crawluri.CrawlUri) error        { return s.row(c) }
func (s *csvSink) ProcessNotFound(c *crawluri.CrawlUri) error        { return s.row(c) }
func (s *csvSink) ProcessServerError(c *crawluri.CrawlUri) error     { return s.row(c) }

// Destination implements master.Destination: the crawl's summary lists
// the file.
func (s *csvSink) Destination() string { return s.path }

// NeedsBody implements master.BodyNeeder: the title comes from the
// worker's processor, so the pages themselves need not cross the wire.
func (s *csvSink) NeedsBody() bool { return false }

// Flush implements master.Flusher: the master flushes its sinks before it
// commits what they wrote, so a killed master loses no row it counted done.
func (s *csvSink) Flush() error {
	s.w.Flush()
	return s.w.Error()
}

// Close implements master.Sink.
func (s *csvSink) Close() error {
	err := s.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
