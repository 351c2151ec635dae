// results.go: applying workers' results: the frontier first (with the
// links the gate admits), then the sinks.

package master

import (
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// receiveResults applies the results waiting on the SUB socket, within
// one turn's budget, and returns how many it applied.
func (m *Master) receiveResults(sub *zmq.Socket) (int, error) {
	applied, size := 0, 0
	for i := 0; i < maxBatch && size < maxTurnBytes; i++ {
		frames, user, err := m.take(sub)
		if err != nil {
			return applied, fmt.Errorf("receiving results: %w", err)
		}
		if frames == nil {
			break
		}
		size += framesSize(frames)
		if m.revokedSender(user) {
			continue
		}
		msg, err := crawluri.ParseDataMessage(frames)
		if err != nil {
			m.drop("undecodable_result", err)
			continue
		}
		if msg.Identity != m.id && m.shared() != nil {
			// The subscription is a prefix: master:h:12 also gets the
			// results of master:h:123. Those are another master's.
			m.drop("result_for_another_master", fmt.Errorf("result of %s for %s", msg.Curi.URL, msg.Identity))
			continue
		}
		if m.apply(msg.Curi, time.Now()) {
			applied++
		}
	}
	return applied, nil
}

// apply records one result. It is idempotent: a result whose lease is not
// outstanding (late, duplicate, forged) changes nothing.
func (m *Master) apply(c *crawluri.CrawlUri, now time.Time) bool {
	if m.store.down() {
		m.drop("store_failed", fmt.Errorf("result for %s while the frontier store is down: fetched again once it is back", c.URL))
		return false
	}
	if c.StatusCode == 0 {
		// Handed back unfetched by a worker that is shutting down.
		if err := m.frontier.Release(c.LeaseID, now); err != nil {
			m.staleOrFail(c, err)
			return false
		}
		delete(m.outstanding, c.LeaseID)
		m.stats.results++
		m.stats.returned++
		return true
	}
	class := crawluri.StatusClass(c.StatusCode)
	var links []string
	var leftOut map[string]int64
	if crawluri.IsSuccess(c.StatusCode) || crawluri.IsRedirect(c.StatusCode) {
		raw := c.ExtractedURLs()
		limit, limitName := m.s.MaxLinksPerPage, "max_links_per_page"
		if c.Var(crawluri.VarSitemap) != "" {
			limit, limitName = m.s.SitemapMaxURLs, "sitemap_max_urls"
		}
		var cut int
		links, leftOut, cut = m.admissible(raw, limit)
		if cut > 0 {
			m.stats.linksCut += int64(cut)
			m.log.Warn().Str("url", c.URL).Str("worker", c.WorkerID).Int("links", len(raw)).Int(limitName, limit).
				Int("dropped", cut).Msg("result with more distinct links than " + limitName + "; the rest are dropped")
		}
	}
	m.checkCapture(c)
	if m.cookies != nil {
		keep, _ := frontier.Cookies(m.frontier)
		refused, err := m.cookies.received(c, keep, now)
		if err != nil {
			m.staleOrFail(c, err)
			return false
		}
		if refused > 0 {
			m.drop("cookie_refused", fmt.Errorf("%d cookies of %s from %s: malformed, or past %d a host or %d a response", refused, c.URL, c.WorkerID, maxCookiesPerHost, maxCookiesPerResult))
		}
	}
	added, err := m.frontier.Done(c, links, now)
	if err != nil {
		m.staleOrFail(c, err)
		return false
	}
	delete(m.outstanding, c.LeaseID)
	m.advanceChanged(c, now)
	if msg := c.Var(crawluri.VarSitemapError); msg != "" {
		// (counted once applied: a stale result is fetched again)
		m.stats.sitemapErrors++
		m.log.Warn().Str("url", c.URL).Str("worker", c.WorkerID).Str("error", msg).Msg("sitemap partly or wholly ignored")
	}
	for reason, n := range leftOut {
		m.stats.linksLeftOut[reason] += n
	}
	m.stats.results++
	m.stats.byClass[class]++
	m.stats.bytes += c.BodySize()
	if m.metrics != nil {
		m.metrics.fetch.Observe(c.ReqTime)
	}
	m.stats.linksNew += int64(added)
	m.log.Debug().Str("url", c.URL).Int16("status", c.StatusCode).Str("worker", c.WorkerID).
		Int("links", len(links)).Int("new", added).Msg("result")
	m.toSinks(c)
	return true
}

// staleOrFail counts a result the frontier would not apply: a stale lease
// is a dropped message; anything else is a failure of the store, logged.
func (m *Master) staleOrFail(c *crawluri.CrawlUri, err error) {
	if errors.Is(err, frontier.ErrStaleLease) {
		// Whatever this master remembers of the lease is stale too (with
		// a shared frontier, another master may have queued it again).
		delete(m.outstanding, c.LeaseID)
		m.drop("stale_result", err)
		return
	}
	m.log.Error().Err(err).Str("url", c.URL).Int64("lease", c.LeaseID).Msg("frontier could not apply a result")
}

// admissible passes links through the gate and keeps the distinct ones
// it admits, in the order they came; leftOut counts the others by reason
// (added to the master's counts once the result is applied).
// max_links_per_page bounds the distinct links it looks at: a page that
// repeats a link (the Python docs' contents.html has 13,945 links, 489
// distinct) keeps all of them, and cut is how many links came after the
// cap. A duplicate costs a map look-up, so a worker sending the same link
// a million times costs little either. limit is max_links_per_page, or
// sitemap_max_urls for a sitemap's URLs.
func (m *Master) admissible(raw []string, limit int) (links []string, leftOut map[string]int64, cut int) {
	links = make([]string, 0, min(len(raw), limit))
	seenRaw := make(map[string]struct{}, min(len(raw), limit))
	seen := make(map[string]struct{}, min(len(raw), limit))
	distinct := 0
	for i, r := range raw {
		if _, dup := seenRaw[r]; dup {
			continue
		}
		seenRaw[r] = struct{}{}
		u, err := m.gate.Link(r)
		if u != "" {
			if _, dup := seen[u]; dup {
				continue
			}
			seen[u] = struct{}{}
		}
		if distinct == limit {
			return links, leftOut, len(raw) - i
		}
		distinct++
		if err != nil {
			if leftOut == nil {
				leftOut = map[string]int64{}
			}
			leftOut[urlx.Reason(err)]++
			continue
		}
		links = append(links, u)
	}
	return links, leftOut, 0
}

// toSinks hands a result to every sink by its status class; a sink that
// fails has the result re-routed to its ProcessServerError as status 710.
func (m *Master) toSinks(c *crawluri.CrawlUri) {
	for _, sink := range m.sinks {
		var err error
		switch s := c.StatusCode; {
		case crawluri.IsSuccess(s):
			err = sink.ProcessSuccessfulCrawl(c)
		case crawluri.IsRedirect(s):
			err = sink.ProcessRedirect(c)
		case crawluri.StatusClass(s) == 4, crawluri.IsNotFetched(s):
			err = sink.ProcessNotFound(c)
		default:
			err = sink.ProcessServerError(c)
		}
		if err != nil {
			m.stats.sinkErrors++
			m.log.Error().Err(err).Str("url", c.URL).Msg("sink failed; result recorded as a server error (710)")
			c.StatusCode, c.Error = crawluri.StatusMasterException, err.Error()
			if err := sink.ProcessServerError(c); err != nil {
				m.log.Error().Err(err).Str("url", c.URL).Msg("sink failed again on the server-error path")
			}
		}
	}
}

// flushSinks flushes the sinks that buffer; what they wrote is indexed
// then (checkCapture).
func (m *Master) flushSinks() error {
	defer clear(m.unindexed)
	var errs []error
	for _, sink := range m.sinks {
		if f, ok := sink.(Flusher); ok {
			if err := f.Flush(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
