// queues.go: the per-queue and per-group scheduling in memory over the
// store: reading ahead, due heads, politeness groups, active slots, and
// writing queue entries.

package frontier

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/urlx"
)

// readAhead is how many queue entries one iterator reads, at most;
// readAheadBudget bounds the entries all active groups of multiple_host
// hold in memory together (about 10 MiB).
const (
	readAhead       = 64
	readAheadBudget = 64 << 10
	// maxBuffered bounds a queue's read-ahead as URLs are inserted into it.
	maxBuffered = 2 * readAhead
)

// fill reads up to readAhead entries of q from its cursor on.
func (f *Durable) fill(q *queueState) error {
	it, err := f.iterFrom(q)
	if err != nil {
		return err
	}
	rd := q.reader()
	rd.buf, rd.bufToEnd = rd.buf[:0], false
	n := readAhead
	if f.cfg.maxInFlight > 0 {
		// Active groups keep their read-ahead, so share a budget among
		// them: 64 entries each with up to 1,000 active, down to what one
		// dispatch and the head after it need when all of 100k hosts are.
		active := f.active
		if f.slots == 0 {
			active = f.ready.Len()
		}
		n = min(max(readAheadBudget/max(active, 1), f.cfg.maxInFlight+1), readAhead)
	}
	ok := it.First()
	for ; ok && len(rd.buf) < n; ok = it.Next() {
		if f.isLeased(it.Key()) {
			continue
		}
		v := it.Value()
		if len(v) < 16 {
			return fmt.Errorf("frontier store: corrupt queue entry")
		}
		e := queueEntry{key: append([]byte(nil), it.Key()...), rec: append([]byte(nil), v[16:]...)}
		copy(e.k[:], v)
		rd.buf = append(rd.buf, e)
	}
	rd.bufToEnd = !ok
	return it.Error()
}

// isLeased reports whether a queue entry is in flight.
func (f *Durable) isLeased(qkey []byte) bool {
	_, ok := f.leasedQ[string(qkey)]
	return ok
}

// iterFrom returns an iterator over q's entries from its cursor on, valid
// until the next call or Commit. It is one iterator for every queue,
// re-aimed and refreshed to the batch's current state each time: opening
// one per read cost more than the read (with 100k hosts nearly every
// dispatch reads a different queue).
func (f *Durable) iterFrom(q *queueState) (*pebble.Iterator, error) {
	p := queuePrefix(q.id)
	lower := p
	if q.rd != nil && q.rd.cursor != nil {
		lower = q.rd.cursor
	}
	return f.sharedIter(&f.qit, &pebble.IterOptions{LowerBound: lower, UpperBound: upperBound(p)})
}

// seenIter returns the iterator over the seen set, refreshed to the
// batch's current state, with the Bloom filters of every level.
func (f *Durable) seenIter() (*pebble.Iterator, error) {
	return f.sharedIter(&f.uit, &pebble.IterOptions{LowerBound: []byte{pfxURL}, UpperBound: []byte{pfxURL + 1}, UseL6Filters: true})
}

// sharedIter re-aims the iterator kept in *slot (SetOptions also refreshes
// its view of the batch), or opens it.
func (f *Durable) sharedIter(slot **pebble.Iterator, opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if *slot != nil {
		(*slot).SetOptions(opts)
		return *slot, nil
	}
	it, err := f.b.NewIter(opts)
	if err != nil {
		return nil, err
	}
	*slot = it
	return it, nil
}

// closeIters closes the shared iterators before their batch goes, or
// before the store changes under them (a bulk ingestion).
func (f *Durable) closeIters() error {
	var errs []error
	for _, it := range []**pebble.Iterator{&f.qit, &f.uit, &f.rit} {
		if *it != nil {
			errs = append(errs, (*it).Close())
			*it = nil
		}
	}
	return errors.Join(errs...)
}

func (f *Durable) queue(name string, now time.Time) *queueState {
	id := queueID(name)
	q := f.queues.get(id)
	if q == nil {
		var pos uint32
		q, pos = f.allocQueue()
		q.id, q.name, q.ordinal = id, intern(&f.names, name), f.queueSeq
		f.queueSeq++
		f.queues.add(pos)
		f.dirty[q] = struct{}{}
		f.assign(q, 0, now)
	}
	return q
}

// headAtMost takes into q's head an entry due at due (unix ns), queued or
// found stored: the head is the earliest.
func (q *queueState) headAtMost(due int64) {
	if q.queued == 0 || due < q.headDue {
		q.headDue = due
	}
}

// reserveQueues makes room for up to n more queues in the maps at once: a
// bulk load of a million new hosts would otherwise rehash them twenty
// times over.
func (f *Durable) reserveQueues(n int) {
	if n < f.queues.len() {
		return // growing would at most double them: the tables do that well
	}
	f.queues.reserve(n)
	if f.cfg.byIP {
		groups := make(map[string]*group, len(f.groups)+n)
		maps.Copy(groups, f.groups)
		f.groups = groups
	}
}

// ownGroup is a queue and the politeness group of its own that host-based
// assignment gives every host, allocated together: a million hosts need no
// map from group keys (45 MB) and one allocation each instead of two.
type ownGroup struct {
	q queueState
	g group
}

// allocQueue allocates an empty queue state (mIdx -1), and its position
// for queueAt; with host-based assignment its grp is the group it comes
// with, which join initializes.
func (f *Durable) allocQueue() (*queueState, uint32) {
	if f.cfg.byIP {
		q, pos := f.queueSlab.alloc()
		q.mIdx = -1
		return q, pos
	}
	o, pos := f.ownSlab.alloc()
	o.q.mIdx, o.q.grp = -1, &o.g
	return &o.q, pos
}

// queueAt is the queue allocQueue gave position pos.
func (f *Durable) queueAt(pos uint32) *queueState {
	if f.cfg.byIP {
		return f.queueSlab.at(pos)
	}
	return &f.ownSlab.at(pos).q
}

// eachGroup calls fn with every politeness group.
func (f *Durable) eachGroup(fn func(*group)) {
	if f.cfg.byIP {
		for _, g := range f.groups {
			fn(g)
		}
		return
	}
	f.queues.each(func(q *queueState) { fn(q.grp) })
}

// assign puts q, whose politeness clock is at clock (unix ns, from its
// record), in its politeness group: its own, or, with IP-based
// assignment, its IP address's once the lookup answers.
func (f *Durable) assign(q *queueState, clock int64, now time.Time) {
	if !f.cfg.byIP || q.name == "" {
		f.join(q, q.name, clock, now)
		return
	}
	if clock > 0 {
		f.unjoined[q] = clock
	}
	host := q.name
	f.opts.Resolver.LookupAsync(host, func(ip string, err error) {
		f.resolvedMu.Lock()
		f.resolved = append(f.resolved, resolvedHost{host: host, ip: ip, err: err})
		f.resolvedMu.Unlock()
		if f.opts.Wake != nil {
			f.opts.Wake()
		}
	})
}

// applyResolved moves the queues whose host has been resolved into their
// IP's group. A host that does not resolve keeps a group of its own: its
// URLs are dispatched anyway and the workers report the failure, so the
// retry policy decides and nothing waits forever.
func (f *Durable) applyResolved(now time.Time) {
	if !f.cfg.byIP {
		return
	}
	f.resolvedMu.Lock()
	done := f.resolved
	f.resolved = nil
	f.resolvedMu.Unlock()
	for _, r := range done {
		q := f.queues.get(queueID(r.host))
		if q == nil || q.grp != nil {
			continue
		}
		key := "ip " + r.ip
		if r.err != nil {
			f.opts.Logger.Debug().Str("host", r.host).Err(r.err).Msg("frontier: host does not resolve; it gets a politeness group of its own")
			key = "host " + r.host
		}
		f.join(q, key, f.unjoined[q], now)
		delete(f.unjoined, q)
		f.touch(q, now)
	}
}

// join makes q a member of the group named key, creating the group: with
// host-based assignment the one allocated with q (allocQueue). The group's
// clock moves forward to q's (unix ns), and an operator's block of q's
// host holds it.
func (f *Durable) join(q *queueState, key string, clock int64, now time.Time) {
	g := q.grp
	if f.cfg.byIP {
		g = f.groups[key]
		if g == nil {
			g, _ = f.groupSlab.alloc()
			g.init(q.ordinal)
			f.groups[key] = g
		}
		q.grp = g
	} else {
		g.init(q.ordinal)
	}
	g.nextAllowed = max(g.nextAllowed, clock)
	if q.ctl != nil {
		f.held.holdUntil(g, unixNano(q.ctl.blockedUntil), now)
	}
}

// touch brings q's group membership and the group's place up to date
// after q's queue changed.
func (f *Durable) touch(q *queueState, now time.Time) {
	g := q.grp
	if g == nil {
		q.dropBuffer()
		return
	}
	switch {
	case q.queued > 0 && q.mIdx < 0:
		g.members.add(q)
	case q.queued > 0:
		g.members.moved(q)
	case q.mIdx >= 0:
		g.members.remove(q)
	}
	f.place(g, now)
}

// free reports whether g may have one more URL in flight.
func (f *Durable) free(g *group) bool {
	return g.robotsInFlight == 0 && (f.cfg.maxInFlight == 0 || int(g.inFlight) < f.cfg.maxInFlight)
}

// place puts g where its state says it belongs (see Durable.ready), and
// retires an active group whose budget is spent or that has nothing due.
func (f *Durable) place(g *group, now time.Time) {
	has := g.members.len() > 0
	if has != g.hasURLs {
		g.hasURLs = has
		if has {
			f.withURLs++
		} else {
			f.withURLs--
		}
	}
	if f.slots == 0 {
		g.active = has
	} else if g.active && (g.budget <= 0 || (g.inFlight == 0 && (!has || g.members.first().headDue > now.UnixNano()))) {
		f.ready.set(g, false)
		g.active = false
		f.active--
		if g.budget <= 0 && has {
			g.cooling = true
			f.cooling = append(f.cooling, g)
		}
	}
	dispatchable := has && f.free(g)
	f.ready.set(g, g.active && dispatchable)
	waiting := !g.active && dispatchable && !g.cooling && f.slots > 0
	due := waiting && g.readyAt() <= now.UnixNano()
	f.pending.set(g, waiting && !due)
	if due != g.eligible {
		if due {
			f.eligible.insert(g)
		} else {
			f.eligible.remove(g)
		}
		g.eligible = due
	}
	if !g.active {
		// Read the queues again when the group is active: memory stays
		// bounded by the groups being drained (a few entries each), not by
		// the URLs queued. An active group keeps its read-ahead across the
		// pause between two of its URLs, so that not every dispatch opens
		// an iterator.
		g.members.each((*queueState).dropBuffer)
	}
}

// fillSlots activates waiting groups while there are free slots: first
// those that became due, chosen by the queue selector, then the groups
// rotated out since the last call, so that a spent group gets a new
// budget only when no other group wants its slot.
func (f *Durable) fillSlots(now time.Time) {
	if f.slots == 0 {
		return
	}
	for f.pending.Len() > 0 && f.pending.top().readyAt() <= now.UnixNano() {
		f.place(f.pending.top(), now) // due now: moves to eligible
	}
	f.offerSlots(now)
	if len(f.cooling) > 0 {
		for _, g := range f.cooling {
			g.cooling = false
			f.place(g, now)
		}
		f.cooling = f.cooling[:0]
		f.offerSlots(now)
	}
}

func (f *Durable) offerSlots(now time.Time) {
	for f.active < f.slots && f.eligible.n > 0 {
		rank := f.selector(f.eligible.n)
		if rank < 0 || rank >= f.eligible.n {
			rank = 0
		}
		g := f.eligible.at(rank)
		g.active, g.budget = true, int32(min(max(f.opts.QueueBudget, 1), math.MaxInt32))
		f.active++
		f.place(g, now)
	}
}

// enqueue writes the queue entry of a URL record and updates its queue.
func (f *Durable) enqueue(k urlx.Key, rec *urlRecord, q *queueState) error {
	return f.enqueueAt(k, rec, q, rec.queueDue())
}

// enqueueAt is enqueue with the due time the entry sorts under.
func (f *Durable) enqueueAt(k urlx.Key, rec *urlRecord, q *queueState, due int64) error {
	f.seq++
	qk := queueKey(q.id, due, rec.priority, f.seq)
	// The entry carries a copy of the record: a queued URL's record does not
	// change until it is popped, and the pop then needs no read.
	enc := rec.encode()
	v := make([]byte, 0, 16+len(enc))
	v = append(append(v, k[:]...), enc...)
	if err := f.b.Set(qk, v, nil); err != nil {
		return err
	}
	if rd := q.rd; rd != nil {
		f.insertRead(rd, queueEntry{key: qk, k: k, rec: enc})
	}
	q.headAtMost(due)
	q.queued++
	if rec.state == stateScheduled {
		f.stats.Scheduled++
	} else {
		f.stats.Queued++
	}
	return nil
}

// insertRead keeps a queue's read state true to a new entry e: the cursor
// goes back to it if it sorts before, and the read-ahead takes it if it
// falls within it.
func (f *Durable) insertRead(rd *queueReader, e queueEntry) {
	if rd.cursor != nil && bytes.Compare(e.key, rd.cursor) < 0 {
		rd.cursor = e.key
	}
	n := len(rd.buf)
	if n == 0 && !rd.bufToEnd {
		return
	}
	i := sort.Search(n, func(i int) bool { return bytes.Compare(rd.buf[i].key, e.key) > 0 })
	if i == n && !rd.bufToEnd {
		return // after the read-ahead: fill finds it in the store
	}
	rd.buf = slices.Insert(rd.buf, i, e)
	if len(rd.buf) > maxBuffered {
		// A buffer that reached the queue's end would grow with every URL
		// admitted, to the whole queue (20k entries in a crawl of one
		// site, and a returned URL, which sorts first, then moved all of
		// them: a sixth of the master's CPU). The tail is in the store;
		// fill reads it again.
		rd.buf, rd.bufToEnd = rd.buf[:readAhead], false
	}
}

// newURLDue is where URLs never fetched sort in their queue: before every
// known URL, as spyder 0.2.x did with next_date = 10000 ("new URLs are
// preferred over known ones"), in the order they were admitted.
const newURLDue = 10000 * int64(time.Second)

// returnedDue is where a URL whose lease ended without a result (handed
// back, released from a lost worker, expired) sorts: before everything
// else of its queue, new URLs too. It was dispatched once already; sent to
// the end of a long queue it waited for the whole crawl (22-29 s in a
// crawl of the Python docs). Its host's politeness still applies.
const returnedDue = int64(time.Second)

// queueDue is the due time a record is queued under: its own, or, for a
// URL that never had a result and is due, newURLDue.
func (r *urlRecord) queueDue() int64 {
	if r.status == 0 && r.state == stateQueued {
		return min(r.due, newURLDue)
	}
	return r.due
}
