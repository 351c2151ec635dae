// result.go: ending a lease: a result (applying frontier.Decide), a
// hand-back or release, an expiry.

package frontier

import (
	"fmt"
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
	q := f.queues[l.queue]
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

// Done implements Frontier. The status decides what happens to the URL:
//
//   - 2xx: done; its validators are kept; revisited after CrawlDelta (level 1).
//   - 304: done, unchanged; revisited after CrawlDelta x (level+1), capped.
//   - other 3xx: done (the Location is among the links); no revisit.
//   - 429, 5xx, transport errors (599), worker failures (810), unknown codes:
//     retried after RetryBackoff x 2^(attempt-1) up to MaxRetries times,
//     then failed; 429 and 503 with Retry-After also hold the whole host.
//   - other 4xx: failed.
//
// The queue's politeness clock moves by the fetch's duration either way,
// and by at least its host's robots.txt Crawl-delay. The result of a
// robots.txt fetch sets its origin's rules instead (robotsDone).
func (f *Durable) Done(res *crawluri.CrawlUri, links []string, now time.Time) (int, error) {
	l, err := f.lease(res.LeaseID, res.URL)
	if err != nil {
		return 0, err
	}
	if l.robots != nil {
		return 0, f.robotsDone(res.LeaseID, l, res, now)
	}
	q, err := f.endLease(res.LeaseID, l)
	if err != nil {
		return 0, err
	}
	rec := l.rec
	rec.lease, rec.status = 0, res.StatusCode
	status := res.StatusCode
	o := Decide(f.opts, Prior{Attempts: int(rec.attempts), Level: int(rec.level)}, status, res.RepHeader, res.ReqTime, f.minDelay(q), l.crawlDelay, now)
	if g := q.grp; g != nil {
		if !o.HostHeldUntil.IsZero() {
			g.hold(o.HostHeldUntil)
		}
		g.wait(o.HostWaitsUntil)
		g.budget -= o.BudgetCost
	}
	rec.attempts, rec.level = byte(o.Attempts), byte(o.Level)
	if o.NewValidators {
		rec.etag = crawluri.HeaderValue(res.RepHeader, "Etag")
		rec.lastMod = crawluri.HeaderValue(res.RepHeader, "Last-Modified")
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
	rec.note(now, evResult, int64(status))
	if rec.state == stateQueued || rec.state == stateScheduled {
		if err := f.enqueue(l.key, &rec, q); err != nil {
			return 0, err
		}
	}
	if err := f.b.Set(urlKey(l.key), rec.encode(), nil); err != nil {
		return 0, err
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return f.addURLs(links, now, "link", int(rec.depth)+1)
}

// Release implements Frontier.
func (f *Durable) Release(id int64, now time.Time) error {
	l, err := f.lease(id, "")
	if err != nil {
		return err
	}
	return f.requeue(id, l, now)
}

func (f *Durable) requeue(id int64, l *leaseState, now time.Time) error {
	q, err := f.endLease(id, l)
	if err != nil {
		return err
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
		if err := f.requeue(id, l, now); err != nil {
			return out, err
		}
		out = append(out, Expired{Lease: id, URL: l.url})
	}
	return out, nil
}
