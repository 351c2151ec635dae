// archive.go: WARC records written where the fetch happens (warc_writer:
// worker), before the result is reported.

package worker

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// archives are the worker's WARC writers, one per directory (in practice
// one: the master's output_warc_dir, or the worker's own). The fetch
// goroutines write through them at once.
type archives struct {
	mu      sync.Mutex
	writers map[string]*warcfile.Writer
}

// archive writes the WARC records of c's fetch when its master asks for
// them (ArchiveDir), to the worker's own output_warc_dir when set, else to
// the master's. They are in the file (written to the operating system)
// before the result goes out, so that a URL the master records as done has
// its records whatever is killed after: an error makes the result an 810,
// which the master does not take as done.
//
// With Capture instead (warc_writer: master) the master writes the
// records; archive only decides, for both, whether the response is a
// revisit of the URL's last capture (dedup).
func (w *Worker) archive(c *crawluri.CrawlUri) error {
	if c.ArchiveDir == "" && !c.Capture {
		return nil
	}
	e, ok := warcfile.ExchangeOf(c)
	if !ok {
		c.WARCCapture = "" // nothing archived: the URL keeps its capture
		return nil
	}
	w.dedup(c, &e)
	if c.ArchiveDir == "" {
		return nil
	}
	dir := c.ArchiveDir
	if w.s.OutputWARCDir != "" {
		dir = w.s.OutputWARCDir
	}
	wr, err := w.archives.writer(dir, func() warcfile.Options {
		return warcfile.Options{
			Dir: dir,
			// Files of this worker's own: several workers may write to
			// one directory (the file names carry the host too).
			Prefix:      fmt.Sprintf("%s%d-", w.s.WARCPrefix, os.Getpid()),
			MaxFileSize: w.s.WARCMaxFileSize,
			Software:    "spyder",
			GzipLevel:   w.s.WARCGzipLevel,
		}
	})
	if err != nil {
		return err
	}
	return wr.Write(e)
}

// dedup decides whether c's response is archived whole or as a revisit of
// the capture its master sent (warcfile.Dedup), and puts the URL's capture
// after this fetch in c for the master's frontier to keep.
func (w *Worker) dedup(c *crawluri.CrawlUri, e *warcfile.Exchange) {
	var last warcfile.Capture
	if c.WARCCapture != "" {
		var err error
		if last, err = warcfile.ParseCapture(c.WARCCapture); err != nil {
			w.log.Warn().Err(err).Str("url", c.URL).Msg("the master sent a WARC capture that does not parse; the response is archived whole")
		}
	}
	c.WARCCapture, c.WARCRevisit = warcfile.Dedup(e, last, time.Now())
}

// writer is the writer of dir, opened with opts the first time.
func (a *archives) writer(dir string, opts func() warcfile.Options) (*warcfile.Writer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if wr, ok := a.writers[dir]; ok {
		return wr, nil
	}
	wr, err := warcfile.New(opts())
	if err != nil {
		return nil, err
	}
	if a.writers == nil {
		a.writers = map[string]*warcfile.Writer{}
	}
	a.writers[dir] = wr
	return wr, nil
}

// close finishes every writer's open files; called once the fetches have
// ended.
func (a *archives) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for dir, wr := range a.writers {
		if err := wr.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the WARC files in %s: %w", dir, err))
		}
	}
	a.writers = nil
	return errors.Join(errs...)
}
