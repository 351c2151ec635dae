// sink.go: sinks (the master's outputs): the interface, the registry by
// name (master_sinks), and the JSON Lines sink.

package master

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/registry"
	"github.com/spyder-crawl/spyder/internal/warcfile"
	"github.com/spyder-crawl/spyder/settings"
)

// Sink receives every result the master applies, routed by status as
// spyder's AbstractCrawlUriSink was: 2xx to ProcessSuccessfulCrawl, 3xx to
// ProcessRedirect, 4xx to ProcessNotFound, everything else (5xx, 599
// transport errors, 710, 810) to ProcessServerError. URLs robots.txt kept
// from being fetched (910, 911; no response) go to ProcessNotFound, like a
// 403 would. Sinks run in the
// master's loop after the frontier has recorded the outcome; a sink that
// returns an error has the result re-routed to ProcessServerError with status
// 710, and the crawl goes on.
type Sink interface {
	ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error
	ProcessRedirect(c *crawluri.CrawlUri) error
	ProcessNotFound(c *crawluri.CrawlUri) error
	ProcessServerError(c *crawluri.CrawlUri) error
	// Close flushes and releases the sink at shutdown.
	Close() error
}

// SinkFactory builds a sink from the master's settings. It returns nil
// and no error when the settings give the sink nothing to write (jsonl
// without output_jsonl), so that a list of sinks can name it by default.
type SinkFactory func(s *settings.Settings) (Sink, error)

var sinks = registry.New[SinkFactory]("sink")

// RegisterSink makes a sink available under name for the master_sinks
// setting; call it from an init function. It panics on a duplicate name or
// a nil factory.
func RegisterSink(name string, f SinkFactory) { sinks.Register(name, f) }

// SinkNames lists the registered sinks, sorted.
func SinkNames() []string { return sinks.Names() }

func init() {
	RegisterSink("jsonl", func(s *settings.Settings) (Sink, error) {
		if s.OutputJSONL == "" {
			return nil, nil
		}
		sink, err := NewJSONLSink(s.OutputJSONL)
		if err != nil {
			return nil, err
		}
		sink.fields = outputFieldsOf(s)
		return sink, nil
	})
	RegisterSink("csv", func(s *settings.Settings) (Sink, error) {
		if s.OutputCSV == "" {
			return nil, nil
		}
		return NewCSVSink(s.OutputCSV, outputFieldsOf(s))
	})
	RegisterSink("crawl_log", func(s *settings.Settings) (Sink, error) {
		if s.OutputCrawlLog == "" {
			return nil, nil
		}
		return NewCrawlLogSink(s.OutputCrawlLog)
	})
	RegisterSink("warc", func(s *settings.Settings) (Sink, error) {
		if s.WARCWrittenBy() != settings.WARCByMaster {
			return nil, nil // (warc_writer worker: the workers write, archiveDir)
		}
		return NewWARCSink(warcfile.Options{Dir: s.OutputWARCDir, Prefix: s.WARCPrefix, MaxFileSize: s.WARCMaxFileSize, Software: "spyder", GzipLevel: s.WARCGzipLevel},
			s.WARCDedup == settings.DedupAnyURL)
	})
}

// openSinks opens the sinks master_sinks names, in order; on an error it
// closes those it opened.
func openSinks(s *settings.Settings) ([]Sink, error) {
	var out []Sink
	for _, name := range s.MasterSinks {
		f, err := sinks.Get(name)
		if err == nil {
			var sink Sink
			if sink, err = f(s); err == nil {
				if sink != nil {
					out = append(out, sink)
				}
				continue
			}
			err = fmt.Errorf("sink %s: %w", name, err)
		}
		for _, opened := range out {
			_ = opened.Close()
		}
		return nil, err
	}
	return out, nil
}

// Flusher is implemented by sinks that buffer; the master flushes after each
// batch of results, so a killed master loses at most one batch of output.
// A flush that fails stops the master's commits like a failed store (the
// batch's URLs are fetched again, their output written again).
type Flusher interface {
	Flush() error
}

// BodyNeeder is implemented by sinks that may do without the results'
// bodies. When every sink's NeedsBody is false, workers leave bodies out
// of results (a robots.txt's apart: the master reads it) and send their
// size instead (crawluri.CrawlUri.BodySize): a crawl writing JSON Lines
// moves URLs and links over the wire, not pages. A sink that does not
// implement it gets every body.
type BodyNeeder interface {
	NeedsBody() bool
}

// omitBodies reports whether no sink reads bodies.
func omitBodies(sinks []Sink) bool {
	for _, s := range sinks {
		if n, ok := s.(BodyNeeder); !ok || n.NeedsBody() {
			return false
		}
	}
	return true
}

// digestWanter is implemented by a sink that writes each payload's digest
// (CrawlLogSink): every URL then asks its worker for it.
type digestWanter interface{ wantsDigest() bool }

// anySink reports whether a sink that implements T says yes (wants the
// wire, wants digests).
func anySink[T any](sinks []Sink, says func(T) bool) bool {
	for _, s := range sinks {
		if t, ok := s.(T); ok && says(t) {
			return true
		}
	}
	return false
}

// WireRecorder is implemented by sinks that make their output of each
// exchange as it crossed the connection (crawluri.CrawlUri.RawRequest,
// RawResponse, RemoteIP), such as the WARC sink: when one wants it, every
// URL goes out with Capture set. A worker that could not record an
// exchange sends its body instead, whatever NeedsBody says.
type WireRecorder interface {
	WantsWire() bool
}

// Destination is implemented by sinks that write where a person will look
// (a file, a directory): the crawl's summary lists it.
type Destination interface {
	Destination() string
}

// Reopener is implemented by sinks that can start afresh after a failed
// write (a full disk): the master reopens them before it goes on.
type Reopener interface {
	Reopen() error
}

// JSONLSink writes one JSON object per result to a file (JSON Lines).
type JSONLSink struct {
	lineFile
	allResults
	fields outputFields
}

// JSONLRecord is one line of a JSONLSink file.
type JSONLRecord struct {
	URL         string  `json:"url"`
	Status      int     `json:"status"`
	ContentType string  `json:"content_type,omitempty"`
	Bytes       int     `json:"bytes"`
	Links       int     `json:"links"`
	FetchTime   float64 `json:"fetch_time"`
	Location    string  `json:"location,omitempty"`
	Truncated   bool    `json:"truncated,omitempty"`
	// Skipped says why the body was neither read nor kept
	// (content_types, max_response_size).
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	Worker  string `json:"worker,omitempty"`
	Time    string `json:"time"`
	// Fields are the extracted fields output_fields names that the
	// result has: strings, or arrays for css_extract's name[] fields.
	Fields map[string]any `json:"fields,omitempty"`
}

// NewJSONLSink appends to (or creates) path, without the partial line a
// killed master may have left at its end (lineFile).
func NewJSONLSink(path string) (*JSONLSink, error) {
	s := &JSONLSink{lineFile: lineFile{path: path, what: "JSONL output"}}
	s.allResults.write = s.write
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("opening JSONL output: %w", err)
	}
	return s, nil
}

// NeedsBody implements BodyNeeder: a line has the body's size and media
// type, which come without it.
func (s *JSONLSink) NeedsBody() bool { return false }

// lineFile is an output of one line per result, appended to path through
// a buffer. The buffer flushes by itself when full, so a kill -9 can cut
// a line in two; that line's result was not committed (commits follow
// complete flushes), so it is fetched and written again, and open cuts
// the partial line first.
type lineFile struct {
	path string
	what string // for errors: "JSONL output"
	f    *os.File
	w    *bufio.Writer
}

// Destination implements Destination.
func (l *lineFile) Destination() string { return l.path }

// Reopen implements Reopener: after a failed write the file is opened
// again, without the partial line the failure may have left at its end.
func (l *lineFile) Reopen() error {
	_ = l.f.Close() // the failure was reported already
	if err := l.open(); err != nil {
		return fmt.Errorf("reopening %s: %w", l.what, err)
	}
	return nil
}

// open opens l.path for appending and cuts a partial last line.
func (l *lineFile) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if err := trimPartialLine(f); err != nil {
		f.Close()
		return fmt.Errorf("cutting the partial line at the end of %s: %w", l.path, err)
	}
	l.f, l.w = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// writeLine appends one line (b ends with its newline).
func (l *lineFile) writeLine(b []byte) error {
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("writing %s: %w", l.what, err)
	}
	return nil
}

// Flush implements Flusher.
func (l *lineFile) Flush() error {
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("flushing %s: %w", l.what, err)
	}
	return nil
}

// Close implements Sink.
func (l *lineFile) Close() error {
	ferr := l.Flush()
	if err := l.f.Close(); err != nil && ferr == nil {
		return fmt.Errorf("closing %s: %w", l.what, err)
	}
	return ferr
}

// trimPartialLine cuts f after its last newline.
func trimPartialLine(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	end := info.Size()
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			if keep := pos + int64(i) + 1; keep < end {
				return f.Truncate(keep)
			}
			return nil
		}
	}
	if end > 0 {
		return f.Truncate(0) // one partial line and nothing else
	}
	return nil
}

func (s *JSONLSink) write(c *crawluri.CrawlUri) error {
	mt, _ := c.ContentType()
	rec := JSONLRecord{
		URL:         c.URL,
		Status:      int(c.StatusCode),
		ContentType: mt,
		Bytes:       int(c.BodySize()),
		Links:       len(c.ExtractedURLs()),
		FetchTime:   c.ReqTime,
		Truncated:   c.Var(crawluri.VarTruncated) == crawluri.VarTrue,
		Skipped:     c.Var(crawluri.VarSkipped),
		Error:       c.Error,
		Worker:      c.WorkerID,
		Time:        time.Now().UTC().Format(time.RFC3339Nano),
	}
	if c.StatusCode >= 300 && c.StatusCode < 400 {
		rec.Location = c.RepHeader["Location"]
	}
	for _, name := range s.fields.names {
		v, ok := c.OptionalVars[crawluri.FieldVar(name)]
		if !ok {
			continue
		}
		if rec.Fields == nil {
			rec.Fields = map[string]any{}
		}
		rec.Fields[name] = s.fields.value(name, v)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding JSONL record: %w", err)
	}
	return s.writeLine(append(b, '\n'))
}
