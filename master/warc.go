// warc.go: the WARC sink: every response with its request, written by a
// goroutine of its own (warc_writer: master).

package master

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// WARCSink writes every fetched response, with the request that fetched
// it, as WARC 1.1 records (internal/warcfile), when warc_writer is
// master: the exchanges travel from the workers as they recorded them on
// the wire (WireRecorder), and the master compresses them. (With warc_writer: worker, the default, each worker writes its own
// fetches and the master has no WARC sink.) Results without an HTTP
// response have nothing to archive and are skipped.
//
// Compressing and writing happen on a goroutine of the sink's own, fed
// through a bounded queue, so the master's loop does not wait for gzip;
// Flush (called before every group commit) waits for the queue to drain
// and reports the first write error since the last Flush.
type WARCSink struct {
	opts  warcfile.Options
	w     *warcfile.Writer
	queue chan archived
	done  chan struct{}
	// payloads, with warc_dedup any: every payload written whole, by
	// digest, for the results of other URLs to refer to (Original).
	payloads *warcfile.PayloadIndex
	log      atomic.Pointer[zerolog.Logger] // (the master's, once it has the sink: setLogger)

	mu      sync.Mutex
	pending int
	drained *sync.Cond
	err     error
}

// warcQueue bounds the results waiting for the WARC writer.
const warcQueue = 256

// archived is a result as the writer goroutine takes it: its exchange, and
// what its worker decided of its payload (Dedup).
type archived struct {
	e       warcfile.Exchange
	capture string
	revisit bool
}

// NewWARCSink opens a WARC writer in opts.Dir; with anyURL (warc_dedup
// any) also the directory's payload index.
func NewWARCSink(opts warcfile.Options, anyURL bool) (*WARCSink, error) {
	w, err := warcfile.New(opts)
	if err != nil {
		return nil, err
	}
	s := &WARCSink{opts: opts, w: w, queue: make(chan archived, warcQueue), done: make(chan struct{})}
	nop := zerolog.Nop()
	s.log.Store(&nop)
	if anyURL {
		logf := func(format string, args ...any) { s.log.Load().Error().Msgf(format, args...) }
		if s.payloads, err = warcfile.OpenPayloadIndex(opts.Dir, logf); err != nil {
			return nil, err
		}
	}
	s.drained = sync.NewCond(&s.mu)
	go s.run()
	return s, nil
}

// setLogger implements logTaker.
func (s *WARCSink) setLogger(log zerolog.Logger) { s.log.Store(&log) }

// payloadIndex implements payloadIndexer.
func (s *WARCSink) payloadIndex() *warcfile.PayloadIndex { return s.payloads }

// WantsWire implements WireRecorder.
func (s *WARCSink) WantsWire() bool { return true }

// NeedsBody implements BodyNeeder: the records are made of the exchange as
// recorded, which has the body as it was sent; a worker that could not
// record one sends the decoded body instead.
func (s *WARCSink) NeedsBody() bool { return false }

// Destination implements Destination.
func (s *WARCSink) Destination() string { return s.opts.Dir + "/" }

// Reopen implements Reopener: after a failed write the next records go to
// a new file (the failed one ends with a record cut short, which readers
// stop at). Called between Flushes, with nothing pending.
func (s *WARCSink) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.w.Close() // the failure was reported already
	w, err := warcfile.New(s.opts)
	if err != nil {
		return err
	}
	s.w, s.err = w, nil
	return nil
}

func (s *WARCSink) run() {
	defer close(s.done)
	for it := range s.queue {
		if err := warcfile.Decided(&it.e, it.capture, it.revisit); err != nil {
			s.log.Load().Warn().Err(err).Str("url", it.e.Target).Msg("a worker's WARC deduplication does not hold")
		}
		err := s.w.Write(it.e)
		if c, ok := it.e.Captured(); ok && err == nil && s.payloads != nil {
			// (after the records: an entry never names a record not
			// written)
			err = s.payloads.Add(c)
		}
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
	// The exchange is taken now: the master may change the result's
	// status afterwards (a sink that fails turns it into a 710).
	e, ok := warcfile.ExchangeOf(c)
	if !ok {
		return nil
	}
	it := archived{e: e, capture: c.WARCCapture, revisit: c.WARCRevisit}
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
	err = errors.Join(err, s.w.Close())
	if s.payloads != nil {
		err = errors.Join(err, s.payloads.Close())
	}
	return err
}
