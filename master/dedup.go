// dedup.go: the WARC captures of the URLs' payloads, which the frontier
// keeps so that an unchanged payload is archived as a revisit record
// (warc_dedup; the decision is the worker's, warcfile.Dedup).

package master

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// payloadIndexer is implemented by a sink that may keep an index of every
// payload it wrote (WARCSink, with warc_dedup any).
type payloadIndexer interface {
	payloadIndex() *warcfile.PayloadIndex
}

// logTaker is implemented by a sink of this package that logs through the
// master's logger.
type logTaker interface{ setLogger(zerolog.Logger) }

// payloadIndexOf is the index of the first sink that keeps one, or nil.
func payloadIndexOf(sinks []Sink) *warcfile.PayloadIndex {
	for _, s := range sinks {
		if x, ok := s.(payloadIndexer); ok && x.payloadIndex() != nil {
			return x.payloadIndex()
		}
	}
	return nil
}

// checkCapture makes what a result says of its payload's capture fit to
// keep, before the frontier stores it: nothing without deduplication; a
// line that does not parse is dropped (counted) and the response is
// archived whole; with an index of every payload (warc_dedup any), a
// payload archived before for another URL makes the result a revisit of
// that capture.
func (m *Master) checkCapture(c *crawluri.CrawlUri) {
	if c.WARCCapture == "" && !c.WARCRevisit {
		return
	}
	if !m.dedup {
		c.WARCCapture, c.WARCRevisit = "", false
		return
	}
	capture, err := warcfile.ParseCapture(c.WARCCapture)
	if err != nil {
		m.drop("bad_warc_capture", fmt.Errorf("result for %s from %s: %w (the capture is dropped, the response archived whole)", c.URL, c.WorkerID, err))
		c.WARCCapture, c.WARCRevisit = "", false
		return
	}
	if m.payloads == nil || c.WARCRevisit || !crawluri.IsSuccess(c.StatusCode) {
		return
	}
	if line, ok := m.unindexed[capture.PayloadDigest]; ok {
		c.WARCCapture, c.WARCRevisit = line, true
		return
	}
	orig, ok, err := m.payloads.Original(capture.PayloadDigest)
	if err != nil {
		m.log.Warn().Err(err).Str("url", c.URL).Msg("payload index unreadable; the response is archived whole")
		return
	}
	if ok && orig.RecordID != capture.RecordID {
		c.WARCCapture, c.WARCRevisit = orig.String(), true
		return
	}
	if !ok {
		// The sink indexes the payload once it has written the record;
		// till then (the turn's flush) results of this turn find it here.
		// Should the write fail, the turn's results are not kept, these
		// revisits with them.
		m.unindexed[capture.PayloadDigest] = c.WARCCapture
	}
}
