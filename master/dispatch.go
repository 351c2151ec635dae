// dispatch.go: handing URLs to workers under the credit, and taking
// back the leases of lost workers, unclaimed URLs and expired leases.

package master

import (
	"errors"
	"fmt"
	"slices"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/zsock"
)

// outstandingLease is a URL this master dispatched and has no result of.
type outstandingLease struct {
	at     time.Time
	url    string
	worker string // the live worker that listed it in a heartbeat, or ""
}

// credit is how many URLs may be in flight: a fixed number per live
// worker. With several masters sharing a crawl, every worker works for
// each of them: each master takes its share of the worker's credit, so
// that a worker holds no more than with one master.
func (m *Master) credit() int {
	c := m.registry.Live() * m.s.MasterInflightPerWorker
	if rs := m.shared(); rs != nil {
		if n := rs.Masters(); n > 1 {
			c = max((c+n-1)/n, m.registry.Live())
		}
	}
	return c
}

// dispatch sends due URLs to workers while the credit allows and the PUSH
// socket takes them; a URL no worker can take now goes back to the
// frontier at once.
func (m *Master) dispatch(push *zmq.Socket, now time.Time) error {
	for !m.pushFull {
		room := m.credit() - m.inFlight()
		if room <= 0 {
			return nil
		}
		batch, err := m.frontier.Next(now, min(room, maxBatch))
		if err != nil {
			return fmt.Errorf("taking URLs from the frontier: %w", err)
		}
		m.recordDecided()
		if len(batch) == 0 {
			return nil
		}
		// The time the batch leaves, not the turn's: a slow store call
		// (Redis failing over) can take seconds, and the window in which
		// a worker must list a URL it got (releaseSilent) counts from its
		// dispatch.
		sent := time.Now()
		for i, c := range batch {
			c.OmitBody, c.ArchiveDir, c.Capture = m.omitBody, m.archiveDir, m.capture
			if !m.dedup {
				c.WARCCapture = ""
			}
			if m.wantDigest {
				c.SetVar(crawluri.VarWantDigest, crawluri.VarTrue)
			}
			if m.cookies != nil {
				if h := m.cookies.header(c.URL); h != "" {
					if c.ReqHeader == nil {
						c.ReqHeader = map[string]string{}
					}
					c.ReqHeader["Cookie"] = h
				}
			}
			ok, err := zsock.TrySend(push, crawluri.DataMessage{Identity: m.id, Curi: c}.Frames())
			if err != nil || !ok {
				// No worker can take it now (none connected yet, or every
				// pipe full): hand this and the rest of the batch back as
				// never sent, so that their hosts do not wait a delay for a
				// request that was not made, and wait until the socket is
				// writable.
				for _, back := range batch[i:] {
					delete(m.outstanding, back.LeaseID)
					if rerr := m.frontier.ReturnUnsent(back.LeaseID, now); rerr != nil {
						return fmt.Errorf("returning %s to the frontier: %w", back.URL, rerr)
					}
				}
				if err != nil {
					return fmt.Errorf("sending to workers: %w", err)
				}
				m.pushFull = true
				return nil
			}
			m.stats.dispatched++
			m.outstanding[c.LeaseID] = &outstandingLease{at: sent, url: c.URL}
			m.log.Debug().Str("url", c.URL).Int64("lease", c.LeaseID).Msg("dispatched")
		}
	}
	return nil
}

// recordDecided hands the URLs the frontier took out of the crawl without
// a fetch (robots.txt) to the sinks.
func (m *Master) recordDecided() {
	for _, c := range m.frontier.Decided() {
		m.unflushed = true
		m.log.Debug().Str("url", c.URL).Int16("status", c.StatusCode).Msg("not fetched: robots.txt")
		m.toSinks(c)
	}
}

// expire declares silent workers lost and puts URLs whose lease ran out back
// in the queue.
func (m *Master) expire(now time.Time) {
	if m.store.down() {
		m.registry.Expire(now) // their leases are re-queued when the store reopens
		return
	}
	// Heartbeats may be waiting behind a flood on the management socket:
	// liveness and claims are judged once it is read to its end.
	if !m.mgmtBehind {
		m.releaseSilent(now)
	}
	expired, err := m.frontier.Expire(now)
	if err != nil {
		m.log.Error().Err(err).Msg("re-queueing expired leases failed")
	}
	m.stats.expired += int64(len(expired))
	for _, e := range expired {
		delete(m.outstanding, e.Lease)
		m.log.Warn().Str("url", e.URL).Int64("lease", e.Lease).Dur("lease_timeout", m.s.MasterLeaseTimeout).Msg("lease expired; URL queued again")
	}
}

// releaseSilent queues again the URLs of lost workers, and those no
// worker claimed.
func (m *Master) releaseSilent(now time.Time) {
	for _, w := range m.registry.Expire(now) {
		urls := m.release(now, func(o *outstandingLease) bool { return o.worker == w.ID })
		m.log.Warn().Str("event", "worker.lost").Str("worker", w.ID).Time("last_seen", w.LastSeen).
			Int("released", len(urls)).Strs("urls", urls[:min(len(urls), 20)]).Msg("worker lost: no heartbeat; its URLs are queued again")
	}
	// A URL that no live worker lists among the leases it holds two
	// heartbeats after its dispatch never reached one: it died in a lost
	// worker's pipes, or a peer that never announced took it (a PULL
	// socket connected to the master's PUSH). It goes back now rather
	// than after master_lease_timeout.
	window := 2 * m.s.HeartbeatInterval
	if urls := m.release(now, func(o *outstandingLease) bool { return o.worker == "" && now.Sub(o.at) >= window }); len(urls) > 0 {
		m.stats.unclaimed += int64(len(urls))
		m.log.Warn().Str("event", "lease.unclaimed").Int("released", len(urls)).Strs("urls", urls[:min(len(urls), 20)]).Dur("window", window).
			Msg("URLs no worker claimed within two heartbeats of their dispatch are queued again")
	}
}

// release queues again, at once, the URLs of the outstanding leases that
// match, and returns them. (A URL that a live worker still holds
// unreported is fetched twice at worst; its first result is then stale.)
func (m *Master) release(now time.Time, match func(*outstandingLease) bool) []string {
	var urls []string
	for id, o := range m.outstanding {
		if !match(o) {
			continue
		}
		delete(m.outstanding, id)
		if err := m.frontier.Release(id, now); err != nil {
			if !errors.Is(err, frontier.ErrStaleLease) {
				m.log.Error().Err(err).Int64("lease", id).Msg("releasing a lease failed")
			}
			continue
		}
		m.stats.released++
		urls = append(urls, o.url)
	}
	slices.Sort(urls)
	return urls
}

// inFlight is the number of this master's outstanding leases: the
// frontier's count, or, when several masters share the frontier (whose
// count is the whole crawl's), the leases this one dispatched.
func (m *Master) inFlight() int {
	if m.shared() != nil {
		return len(m.outstanding)
	}
	return int(m.frontierStats().InFlight)
}
