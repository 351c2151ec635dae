// dispatch.go: handing out URLs: Next takes the due head of each ready
// politeness group, leases it and writes one lease record per batch.

package frontier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// Next implements Frontier.
func (f *Durable) Next(now time.Time, max int) ([]*crawluri.CrawlUri, error) {
	f.applyResolved(now)
	f.fillSlots(now)
	var out []*crawluri.CrawlUri
	f.batch, f.batchID = f.batch[:0], f.nextLease+1
	for len(out) < max && f.ready.Len() > 0 {
		g := f.ready.top()
		if g.readyAt() > now.UnixNano() {
			break
		}
		q := g.members.first()
		c, err := f.next(q, now)
		if err != nil {
			return out, errors.Join(err, f.writeBatch())
		}
		if c != nil {
			out = append(out, c)
		}
		f.touch(q, now)
	}
	return out, f.writeBatch()
}

// next dispatches what q offers now: its first URL, or that URL's
// robots.txt, or nothing (robots.txt took the URL out of the crawl, or
// holds the group).
func (f *Durable) next(q *queueState, now time.Time) (*crawluri.CrawlUri, error) {
	head, err := f.peek(q)
	if errors.Is(err, errMiscounted) {
		f.opts.Logger.Warn().Str("queue", q.name).Err(err).Msg("frontier: a queue counted URLs it does not have; it now counts none")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A head taken from its queue record at start-up may be earlier than
	// the real one (see queueRecordHeader): then the queue is not due yet.
	if due := head.due(); due > q.headDue {
		q.headDue = due
		return nil, nil
	}
	rec, err := decodeURLRecord(head.rec)
	if err != nil {
		return nil, err
	}
	var crawlDelay time.Duration
	if f.opts.ObeyRobots {
		c, dispatch, delay, err := f.robotsCheck(q, rec, now)
		if err != nil || !dispatch {
			return c, err
		}
		crawlDelay = delay
	}
	return f.pop(q, rec, crawlDelay, now)
}

// errMiscounted is a queue whose record counted more entries than the
// store has (a store damaged by hand), found when the queue is read.
var errMiscounted = errors.New("frontier store: a queue's count was wrong")

// peek returns the first URL of q, reading ahead if needed.
func (f *Durable) peek(q *queueState) (queueEntry, error) {
	if len(q.buffered()) == 0 {
		if err := f.fill(q); err != nil {
			return queueEntry{}, err
		}
		if len(q.rd.buf) == 0 {
			n := q.queued
			q.queued = 0
			return queueEntry{}, fmt.Errorf("%w: queue %s is empty but counted %d URLs", errMiscounted, q.name, n)
		}
	}
	return q.rd.buf[0], nil
}

// take removes the first URL of q from the queue in memory (its entry
// stays in the store until the caller deletes it).
func (f *Durable) take(q *queueState) (queueEntry, error) {
	head, err := f.peek(q)
	if err != nil {
		return head, err
	}
	rd := q.rd // peek made it
	rd.buf = rd.buf[1:]
	rd.cursor = append(head.key[:len(head.key):len(head.key)], 0) // the next possible key after the one taken
	q.queued--
	if q.queued > 0 {
		if len(rd.buf) == 0 && !rd.bufToEnd {
			if err := f.fill(q); err != nil {
				return head, err
			}
		}
		if len(rd.buf) > 0 {
			q.headDue = rd.buf[0].due()
		}
	}
	return head, nil
}

// politeAtDispatch starts the group's pause at the dispatch of l, for
// frontiers that do (single_host): at least crawlDelay, the robots.txt
// Crawl-delay.
func (f *Durable) politeAtDispatch(q *queueState, l *leaseState, crawlDelay time.Duration, now time.Time) {
	if d := max(f.minDelay(q), crawlDelay); f.cfg.delayAfterDispatch && d > 0 {
		l.clockBefore, l.clockSet = q.grp.nextAllowed, now.Add(d).UnixNano()
		q.grp.nextAllowed = l.clockSet
		f.dirty[q] = struct{}{} // the clock must survive a restart
	}
}

// pop leases the first URL of q, whose record is rec; crawlDelay is its
// host's robots.txt Crawl-delay.
func (f *Durable) pop(q *queueState, rec urlRecord, crawlDelay time.Duration, now time.Time) (*crawluri.CrawlUri, error) {
	head, err := f.take(q)
	if err != nil {
		return nil, err
	}
	k := head.k
	q.leased++
	scheduled := rec.state == stateScheduled
	if scheduled {
		f.stats.Scheduled--
		f.leasedScheduled++
	} else {
		f.stats.Queued--
		f.leasedQueued++
	}
	f.nextLease++
	id := f.nextLease
	deadline := now.Add(f.opts.LeaseTimeout)
	rec.state, rec.lease = stateInFlight, id
	rec.note(now, evDispatched, id) // stored with the result
	f.batch = binary.BigEndian.AppendUint64(f.batch, uint64(id))
	f.batch = append(f.batch, head.key...)
	f.batch = binary.BigEndian.AppendUint64(f.batch, uint64(deadline.UnixNano()))
	l := &leaseState{key: k, url: rec.url, queue: q.id, deadline: deadline, rec: rec, qkey: head.key, batch: f.batchID, scheduled: scheduled, crawlDelay: crawlDelay}
	f.leases[id] = l
	f.leasedQ[string(head.key)] = id
	q.grp.inFlight++
	f.politeAtDispatch(q, l, crawlDelay, now)
	c := Dispatched(rec.url, int(rec.level), id, rec.etag, rec.lastMod, rec.capture)
	return c, nil
}

// Dispatched is what goes to a worker for a URL leased under lease at
// revisit level, with the validators of its last fetch and the WARC
// capture of its last archived payload (every store hands URLs out this
// way).
func Dispatched(u string, level int, lease int64, etag, lastMod, capture string) *crawluri.CrawlUri {
	c := &crawluri.CrawlUri{URL: u, EffectiveURL: u, CurrentPriority: int16(level), LeaseID: lease, WARCCapture: capture}
	if strings.Contains(u, "@") {
		// spyder's frontier passed URL credentials to the fetcher this way.
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			if pw, ok := pu.User.Password(); ok {
				c.OptionalVars = map[string]string{"username": pu.User.Username(), "password": pw}
			}
		}
	}
	if etag != "" || lastMod != "" {
		// spyder's header names; the worker turns them into a conditional GET.
		c.ReqHeader = map[string]string{}
		if etag != "" {
			c.ReqHeader["Etag"] = etag
		}
		if lastMod != "" {
			c.ReqHeader["Last-Modified"] = lastMod
		}
	}
	return c
}

// writeBatch stores the lease record of the Next call in progress.
func (f *Durable) writeBatch() error {
	if len(f.batch) == 0 {
		return nil
	}
	f.batches[f.batchID] = len(f.batch) / leaseEntryLen
	return f.b.Set(leaseKey(f.batchID), f.batch, nil)
}

// NextDue implements Frontier.
func (f *Durable) NextDue(now time.Time) time.Time {
	f.applyResolved(now)
	var due time.Time
	if f.ready.Len() > 0 {
		due = time.Unix(0, f.ready.top().readyAt())
	}
	if f.active < f.slots {
		if f.eligible.n > 0 || len(f.cooling) > 0 {
			return now
		}
		if f.pending.Len() > 0 {
			if p := time.Unix(0, f.pending.top().readyAt()); due.IsZero() || p.Before(due) {
				due = p
			}
		}
	}
	return due
}
