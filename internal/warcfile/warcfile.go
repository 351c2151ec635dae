// Package warcfile writes fetches as WARC 1.1 records (ISO 28500:2017):
// one gzip member per record, a warcinfo record opening every file, files
// rotated by size. The master's WARC sink and a worker archiving its own
// fetches (warc_writer) write the same records with it.
//
// The records are rendered here (record.go) rather than through a WARC
// library: gowarc, used before, spent 0.4–0.6 ms on a 20 KB fetch against
// the 0.1 ms its gzip needs (it validated each record it had just built,
// digesting the block again, through 560 allocations), and a package-wide
// switch it set on every record made all writers of a process take turns.
// Writing a record is a header block, the content and two digests; the
// tests read the files back with a reader that shares nothing with this one
// and check every digest.
package warcfile

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/spyder-crawl/spyder/crawluri"
)

// Options configures a Writer.
type Options struct {
	Dir         string // created if missing
	Prefix      string // of the file names
	MaxFileSize int64  // bytes before a file is closed and the next begun
	Software    string // for the warcinfo records
	// GzipLevel is the compression level of the records (CheckGzipLevel);
	// 0 is DefaultGzipLevel.
	GzipLevel int
}

// DefaultGzipLevel is the records' compression level unless set. On the
// generated 20 KB page (BenchmarkWrite20KB) klauspost's level 3 takes
// 0.10 ms and makes a member 7 % larger than its level 6 does in 0.21 ms
// (11 % larger than the standard library's level 6 in 0.69 ms, which
// gowarc used); level 1 saves 0.025 ms more for 4 % more bytes.
const DefaultGzipLevel = 3

// CheckGzipLevel says what is wrong with a compression level, if anything.
func CheckGzipLevel(level int) error {
	if level < gzip.BestSpeed || level > gzip.BestCompression {
		return fmt.Errorf("%d is not a gzip level: 1 (fastest) to 9 (smallest), %d by default", level, DefaultGzipLevel)
	}
	return nil
}

// Writer writes exchanges to the WARC files of one directory. Its Write
// may be called from several goroutines: records are compressed by the
// goroutine writing them, and appended to the file in turn.
type Writer struct {
	opts     Options
	hostname string
	gzips    sync.Pool // *gzip.Writer at opts.GzipLevel

	mu     sync.Mutex
	f      *os.File // the open file, nil before the first record
	name   string   // its final name (the file is name + ".open" while written)
	size   int64    // bytes in f
	serial int      // of the last file opened
}

// openSuffix marks a file still being written.
const openSuffix = ".open"

// New makes a writer for opts.Dir, creating the directory; its first file
// is opened with the first record.
func New(opts Options) (*Writer, error) {
	if opts.GzipLevel == 0 {
		opts.GzipLevel = DefaultGzipLevel
	}
	if err := CheckGzipLevel(opts.GzipLevel); err != nil {
		return nil, fmt.Errorf("WARC writer: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("WARC directory: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Writer{opts: opts, hostname: host}, nil
}

// Dir is the directory the writer writes to.
func (w *Writer) Dir() string { return w.opts.Dir }

// Exchange is what the records of one fetch are made of.
type Exchange struct {
	Target    string // the URL fetched
	Status    int16
	Req, Rep  map[string]string // request and response headers
	Body      []byte            // decoded
	Truncated bool              // cut at max_content_length
	// RawRequest and RawResponse are the exchange as it crossed the
	// connection, and IP the address it went to, when the worker
	// recorded them (crawluri.CrawlUri.RawResponse).
	RawRequest, RawResponse []byte
	IP                      string

	// Set by Dedup: the payload's digest, and either the record id and
	// date the response record is to have (a capture the frontier now
	// keeps for the URL) or, for a payload archived before, the capture a
	// revisit record refers to instead.
	PayloadDigest string
	RecordID      string
	Date          time.Time
	RevisitOf     *Capture
}

// ExchangeOf is the exchange of a result, and whether it has one: results
// without an HTTP response (transport errors, 599; a worker's failure,
// 810; URLs robots.txt kept from being fetched, 910 and 911) have nothing
// to archive. The exchange shares the result's maps and body.
func ExchangeOf(c *crawluri.CrawlUri) (Exchange, bool) {
	if c.StatusCode < 100 || c.StatusCode >= crawluri.StatusTransportError || c.Error != "" || c.Var(crawluri.VarSkipped) != "" {
		// (a skipped body, content_types or max_response_size, is not kept)
		return Exchange{}, false
	}
	e := Exchange{Target: c.EffectiveURL, Status: c.StatusCode, Req: c.ReqHeader, Rep: c.RepHeader, Body: c.ContentBody,
		Truncated:  c.Var(crawluri.VarTruncated) == crawluri.VarTrue,
		RawRequest: c.RawRequest, RawResponse: c.RawResponse, IP: c.RemoteIP}
	if e.Target == "" {
		e.Target = c.URL
	}
	return e, true
}

// Write writes the request and response records of e; when it returns,
// they are in the file (written to the operating system, which a kill of
// the process does not lose).
//
// The records hold the exchange as the worker recorded it on the wire:
// the request as sent, the response as received (its status line and
// protocol version, header names in their order and case, repeated
// headers, Content-Encoding and chunking), with the WARC-IP-Address it
// came from. An exchange that could not be recorded (HTTPS through a
// proxy) is rebuilt from the decoded body and the headers as a map: the
// status line, the headers in name order without the codings the body no
// longer has, and a Content-Length that matches the body. A response cut
// at max_content_length is marked with WARC-Truncated: length.
func (w *Writer) Write(e Exchange) error {
	u, err := url.Parse(e.Target)
	if err != nil {
		return fmt.Errorf("WARC: %s: %w", e.Target, err)
	}
	recs, err := w.exchangeRecords(e, u, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("WARC records for %s: %w", e.Target, err)
	}
	defer recs.release()
	if err := w.append(recs); err != nil {
		return fmt.Errorf("writing WARC records for %s: %w", e.Target, err)
	}
	return nil
}

// append writes the records of one fetch at the end of the open file,
// opening or rotating files first.
func (w *Writer) append(recs *fetchRecords) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil && w.size+int64(recs.buf.Len()) > w.opts.MaxFileSize {
		if err := w.finish(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(recs.buf.Bytes())
	w.size += int64(n)
	if err != nil {
		return w.fail(err)
	}
	return nil
}

// fail ends the open file after a failed write: a file cut inside a
// record is not written on (readers stop at the cut), the next records
// begin a new one.
func (w *Writer) fail(err error) error {
	return errors.Join(err, w.finish())
}

// open begins the next file with its warcinfo record. Names are
// prefix, time, serial, host: a writer that follows another in the same
// second (after a failure) takes the next free serial.
func (w *Writer) open() error {
	stamp := time.Now().UTC()
	for {
		w.serial++
		name := filepath.Join(w.opts.Dir, fmt.Sprintf("%s%s-%04d-%s.warc.gz", w.opts.Prefix, stamp.Format("20060102150405"), w.serial, w.hostname))
		if _, err := os.Lstat(name); err == nil {
			continue
		}
		f, err := os.OpenFile(name+openSuffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("opening a WARC file: %w", err)
		}
		info, err := w.warcinfo(filepath.Base(name), stamp)
		if err == nil {
			_, err = f.Write(info)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("warcinfo record of %s: %w", name, err)
		}
		w.f, w.name, w.size = f, name, int64(len(info))
		return nil
	}
}

// finish closes the open file and gives it its final name, also when the
// close fails: what was written is in the file either way.
func (w *Writer) finish() error {
	var errs []error
	if err := w.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing %s: %w", w.name+openSuffix, err))
	}
	w.f = nil
	if err := os.Rename(w.name+openSuffix, w.name); err != nil {
		errs = append(errs, fmt.Errorf("finishing a WARC file: %w", err))
	}
	return errors.Join(errs...)
}

// Close finishes the open file (renamed from its .open name).
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	return w.finish()
}
