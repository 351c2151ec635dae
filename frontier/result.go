// result.go: ending a lease: a result (with the outcome the policy
// decided), a hand-back or release, an expiry.

package frontier

import (
	"fmt"
	"math"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

// lease returns the outstanding lease id for url, or an error.
func (f *Durable) lease(id int64, url string) (*leaseState, error) {
	l := f.leases[id]
	if l == nil {
		return nil, fmt.Errorf("%w: lease %d (%s)", ErrStaleLease, id, url)
	}
	if url != "" && l.url != url {
		return nil, fmt.Errorf("%w: lease %d is for %s, not %s", ErrStaleLease, id, l.url, url)
	}
	return l, nil
}

// endLease removes a lease from memory and store and frees its queue slot.
// A robots.txt fetch has no queue entry or lease record: it only frees
// its group.
func (f *Durable) endLease(id int64, l *leaseState) (*queueState, error) {
	delete(f.leases, id)
	if l.robots != nil {
		l.robots.lease = 0
	} else {
		delete(f.leasedQ, string(l.qkey))
		if err := f.b.Delete(l.qkey, nil); err != nil {
			return nil, err
		}
		if n := f.batches[l.batch] - 1; n > 0 {
			f.batches[l.batch] = n
		} else {
			delete(f.batches, l.batch)
			if err := f.b.Delete(leaseKey(l.batch), nil); err != nil {
				return nil, err
			}
		}
		if l.scheduled {
			f.leasedScheduled--
		} else {
			f.leasedQueued--
		}
	}
	q := f.queues.get(l.queue)
	if q == nil {
		// A lease whose queue record was lost: rebuild the queue from the
		// URL so that the URL is not.
		q = f.queue(f.cfg.queueOf(urlx.Host(l.url)), time.Now())
	}
	if g := q.grp; g != nil {
		g.inFlight = max(g.inFlight-1, 0)
		if l.robots != nil {
			g.robotsInFlight = max(g.robotsInFlight-1, 0)
		}
	}
	if q.leased > 0 && l.robots == nil {
		q.leased--
	}
	f.dirty[q] = struct{}{}
	return q, nil
}

// Lease implements Store.
func (f *Durable) Lease(id int64, url string) (Leased, error) {
	l, err := f.lease(id, url)
	if err != nil {
		return Leased{}, err
	}
	out := Leased{URL: l.url, CrawlDelay: l.crawlDelay}
	if q := f.queues.get(l.queue); q != nil {
		out.MinDelay = f.minDelay(q)
	} else {
		out.MinDelay = f.opts.MinDelay
	}
	if l.robots != nil {
		out.Robots, out.RobotsRules = true, l.robots.RobotsRules
		return out, nil
	}
	out.Depth, out.Via, out.HopPath = int(l.rec.depth), l.rec.via, l.rec.hopPath
	out.Prior = Prior{Attempts: int(l.rec.attempts), Level: int(l.rec.level)}
	return out, nil
}

// Settle implements Store: the URL's record takes the outcome (kept with
// the result's status in its history), its queue entry goes, a new one is
// written for a retry or a revisit, and the host's group takes the hold,
// the politeness wait and the budget cost.
func (f *Durable) Settle(id int64, o Outcome, res *crawluri.CrawlUri, now time.Time) error {
	l, err := f.lease(id, res.URL)
	if err != nil {
		return err
	}
	if l.robots != nil {
		return fmt.Errorf("frontier: lease %d is a robots.txt fetch, settled by SettleRobots", id)
	}
	q, err := f.endLease(id, l)
	if err != nil {
		return err
	}
	rec := l.rec
	rec.lease, rec.status = 0, res.StatusCode
	if g := q.grp; g != nil {
		if !o.HostHeldUntil.IsZero() {
			f.held.hold(g, o.HostHeldUntil, now)
		}
		g.wait(o.HostWaitsUntil)
		g.budget = int32(max(int64(g.budget)-int64(o.BudgetCost), math.MinInt32))
	}
	rec.attempts, rec.level = byte(o.Attempts), byte(o.Level)
	if o.NewValidators {
		rec.etag = crawluri.HeaderValue(res.RepHeader, "Etag")
		rec.lastMod = crawluri.HeaderValue(res.RepHeader, "Last-Modified")
	}
	if res.WARCCapture != "" {
		rec.capture = res.WARCCapture
	}
	switch o.Fate {
	case FateDone:
		rec.state = stateDone
		f.stats.Done++
	case FateRevisit:
		rec.state, rec.due = stateScheduled, o.Due.UnixNano()
		f.stats.Done++
	case FateRetry:
		rec.state, rec.due = stateQueued, o.Due.UnixNano()
		f.stats.Retried++
	case FateFailed:
		rec.state = stateFailed
		f.stats.Failed++
	}
	rec.note(now, evResult, int64(res.StatusCode))
	if rec.state == stateQueued || rec.state == stateScheduled {
		if err := f.enqueue(l.key, &rec, q); err != nil {
			return err
		}
	}
	if err := f.b.Set(urlKey(l.key), rec.encode(), nil); err != nil {
		return err
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return nil
}

// Release implements Frontier.
func (f *Durable) Release(id int64, now time.Time) error {
	l, err := f.lease(id, "")
	if err != nil {
		return err
	}
	return f.requeue(id, l, true, now)
}

// ReturnUnsent implements Frontier.
func (f *Durable) ReturnUnsent(id int64, now time.Time) error {
	l, err := f.lease(id, "")
	if err != nil {
		return err
	}
	return f.requeue(id, l, false, now)
}

// requeue ends lease id without an outcome and queues its URL again;
// sent says whether the URL went to a worker.
func (f *Durable) requeue(id int64, l *leaseState, sent bool, now time.Time) error {
	q, err := f.endLease(id, l)
	if err != nil {
		return err
	}
	switch g := q.grp; {
	case g == nil:
	case sent:
		// The lease ended without a result, but its URL may be being
		// fetched right now (a worker that lost contact, or one whose
		// heartbeat came late): the host's next request waits a whole
		// delay from now, as after a request.
		g.wait(now.Add(max(f.minDelay(q), l.crawlDelay)))
	case l.clockSet != 0 && g.nextAllowed == l.clockSet:
		// Never sent: no request was made, the pause it started is undone
		// (unless something has moved the clock since).
		g.nextAllowed = l.clockBefore
		f.dirty[q] = struct{}{}
	}
	if l.robots != nil {
		// Nothing to queue: the origin's next URL asks for it again.
		f.touch(q, now)
		return nil
	}
	rec := l.rec
	rec.state, rec.lease, rec.due = stateQueued, 0, now.UnixNano()
	rec.note(now, evLeaseEnded, id)
	if err := f.b.Set(urlKey(l.key), rec.encode(), nil); err != nil {
		return err
	}
	if err := f.enqueueAt(l.key, &rec, q, returnedDue); err != nil {
		return err
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return nil
}

// Expire implements Frontier.
func (f *Durable) Expire(now time.Time) ([]Expired, error) {
	var out []Expired
	for id, l := range f.leases {
		if now.Before(l.deadline) {
			continue
		}
		if err := f.requeue(id, l, true, now); err != nil {
			return out, err
		}
		out = append(out, Expired{Lease: id, URL: l.url})
	}
	return out, nil
}
