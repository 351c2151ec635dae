// slots.go: politeness groups and their heaps: which group may dispatch
// next, the active-queue slots and the selectors that fill them.

package frontier

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"

	"github.com/spyder-crawl/spyder/internal/registry"
)

// group is a politeness unit: the URLs of its queues share one clock
// (never two requests closer than the delay) and one bound on URLs in
// flight. With host-based assignment a group is one host's queue; with
// IP-based assignment every host on one IP address; for single_host the
// whole crawl.
//
// With a limit on active queues (spyder's FRONTIER_ACTIVE_QUEUES), only
// active groups dispatch. A group is activated with a budget
// (FRONTIER_QUEUE_BUDGET) that each result spends, a 5xx more
// (FRONTIER_QUEUE_BUDGET_PUNISH); a spent group is rotated out so that
// other hosts get their turn, and the queue selector picks which waiting
// group takes a free slot.
type group struct {
	ordinal uint64 // creation order: the selector prefers older groups
	// nextAllowed is the politeness clock (unix ns, 0: none); a hold
	// beyond politeness moves it too (heldGroups).
	nextAllowed int64
	members     memberSet // queues of the group with URLs, earliest head first
	inFlight    int32
	// robotsInFlight counts the robots.txt fetches of the group's hosts in
	// flight; while there are any, the group dispatches nothing else.
	robotsInFlight int32
	budget         int32
	readyIdx       int32 // position in Durable.ready (active groups), -1 if not there
	pendIdx        int32 // position in Durable.pending (waiting groups not due yet), -1 if not there
	active         bool
	hasURLs        bool // counted in Durable.withURLs
	eligible       bool // in Durable.eligible: waiting, due, and may take a slot
	cooling        bool // rotated out: offered a slot again only after the others
}

// init makes g an empty group.
func (g *group) init(ordinal uint64) *group {
	*g = group{ordinal: ordinal, readyIdx: -1, pendIdx: -1}
	return g
}

// wait moves g's politeness clock forward to t, never back.
func (g *group) wait(t time.Time) { g.nextAllowed = max(g.nextAllowed, unixNano(t)) }

// heldGroups are the groups held beyond politeness (a Retry-After, an
// operator's block, a robots.txt being retried) and until when (unix ns),
// for BlockedQueues. Few groups are ever held: a field in every group
// cost a million hosts 8 MB. Holds that have ended are dropped whenever
// the map has doubled since the last look, and by BlockedQueues.
type heldGroups struct {
	until   map[*group]int64
	pruneAt int
}

// hold holds g until t: its politeness clock moves there too.
func (h *heldGroups) hold(g *group, t time.Time, now time.Time) {
	g.wait(t)
	h.holdUntil(g, unixNano(t), now)
}

// holdUntil records a hold of g until t (unix ns) that its clock has
// already (join).
func (h *heldGroups) holdUntil(g *group, t int64, now time.Time) {
	if t <= now.UnixNano() {
		return
	}
	if h.until == nil {
		h.until = map[*group]int64{}
	}
	if len(h.until) >= h.pruneAt {
		h.prune(now)
		h.pruneAt = max(2*len(h.until), 64)
	}
	h.until[g] = max(h.until[g], t)
}

// prune drops the holds that have ended at now.
func (h *heldGroups) prune(now time.Time) {
	for g, t := range h.until {
		if t <= now.UnixNano() {
			delete(h.until, g)
		}
	}
}

// count is the number of groups with URLs held at now.
func (h *heldGroups) count(now time.Time) int64 {
	h.prune(now)
	var n int64
	for g := range h.until {
		if g.hasURLs {
			n++
		}
	}
	return n
}

// readyAt is when the group may next hand out a URL (unix ns); valid while
// it has members.
func (g *group) readyAt() int64 { return max(g.nextAllowed, g.members.first().headDue) }

// memberSet holds the queues of a group that have URLs, the earliest head
// first. A host-based group has one queue, and so do most IP-based ones:
// one is enough for them, and only a group that ever had two members gets
// a heap (many, then holding them all). A million host groups are 17 MB
// smaller than with a heap each (its slice header and the array behind).
type memberSet struct {
	one  *queueState
	many *memberHeap
}

// len is the number of members.
func (m *memberSet) len() int {
	if m.many != nil {
		return len(*m.many)
	}
	if m.one != nil {
		return 1
	}
	return 0
}

// first is the member with the earliest head; nil if none.
func (m *memberSet) first() *queueState {
	if m.many != nil {
		if len(*m.many) == 0 {
			return nil
		}
		return (*m.many)[0]
	}
	return m.one
}

// add makes q a member (q.mIdx < 0).
func (m *memberSet) add(q *queueState) {
	switch {
	case m.many != nil:
		heap.Push(m.many, q)
	case m.one == nil:
		m.one, q.mIdx = q, 0
	default:
		m.many = &memberHeap{m.one}
		m.one = nil
		heap.Push(m.many, q)
	}
}

// moved restores the order after member q's head changed.
func (m *memberSet) moved(q *queueState) {
	if m.many != nil {
		heap.Fix(m.many, int(q.mIdx))
	}
}

// remove takes member q out.
func (m *memberSet) remove(q *queueState) {
	if m.many != nil {
		heap.Remove(m.many, int(q.mIdx))
		return
	}
	m.one, q.mIdx = nil, -1
}

// each calls fn with every member.
func (m *memberSet) each(fn func(*queueState)) {
	if m.many != nil {
		for _, q := range *m.many {
			fn(q)
		}
	} else if m.one != nil {
		fn(m.one)
	}
}

// memberHeap orders a group's queues by the due time of their heads.
type memberHeap []*queueState

func (h memberHeap) Len() int           { return len(h) }
func (h memberHeap) Less(i, j int) bool { return h[i].headDue < h[j].headDue }
func (h memberHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].mIdx, h[j].mIdx = int32(i), int32(j)
}
func (h *memberHeap) Push(x any) {
	q := x.(*queueState)
	q.mIdx = int32(len(*h))
	*h = append(*h, q)
}
func (h *memberHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	q.mIdx = -1
	return q
}

// groupHeap orders groups by readyAt; idx selects which of the group's
// positions it maintains, so a group can be tracked by two heaps.
type groupHeap struct {
	gs  []*group
	idx func(*group) *int32
}

func (h *groupHeap) Len() int { return len(h.gs) }

// Less orders by readyAt; groups ready at the same time (every host at the
// start of a crawl, or dispatched in one turn under the same delay) go in
// the order of their first queue's keys, so that dispatch reads the store's
// queue entries in key order: each read finds its block where the last
// one left it, in the block cache, instead of one random block per host.
func (h *groupHeap) Less(i, j int) bool {
	a, b := h.gs[i], h.gs[j]
	if ra, rb := a.readyAt(), b.readyAt(); ra != rb {
		return ra < rb
	}
	return a.members.first().id < b.members.first().id
}
func (h *groupHeap) Swap(i, j int) {
	h.gs[i], h.gs[j] = h.gs[j], h.gs[i]
	*h.idx(h.gs[i]), *h.idx(h.gs[j]) = int32(i), int32(j)
}
func (h *groupHeap) Push(x any) {
	g := x.(*group)
	*h.idx(g) = int32(len(h.gs))
	h.gs = append(h.gs, g)
}
func (h *groupHeap) Pop() any {
	g := h.gs[len(h.gs)-1]
	h.gs[len(h.gs)-1] = nil
	h.gs = h.gs[:len(h.gs)-1]
	*h.idx(g) = -1
	return g
}

// set puts g in the heap (or fixes its place) when in is true, and takes it
// out otherwise.
func (h *groupHeap) set(g *group, in bool) {
	i := int(*h.idx(g))
	switch {
	case in && i < 0:
		heap.Push(h, g)
	case in:
		heap.Fix(h, i)
	case i >= 0:
		heap.Remove(h, i)
	}
}

func (h *groupHeap) top() *group { return h.gs[0] }

// rankSet holds the waiting groups that may take a slot, by ordinal, and
// finds the k-th oldest in O(log n): a Fenwick tree of 0/1 counts.
type rankSet struct {
	tree  []int32  // 1-based Fenwick tree over ordinals
	byOrd []*group // group per ordinal, nil where not in the set
	n     int
}

func (s *rankSet) add(i int, d int32) {
	for i++; i < len(s.tree); i += i & -i {
		s.tree[i] += d
	}
}

func (s *rankSet) grow(ord uint64) {
	if int(ord) < len(s.byOrd) {
		return
	}
	size := max(64, len(s.byOrd))
	for size <= int(ord) {
		size *= 2
	}
	old := s.byOrd
	s.byOrd = make([]*group, size)
	copy(s.byOrd, old)
	s.tree = make([]int32, size+1)
	for i, g := range s.byOrd {
		if g != nil {
			s.add(i, 1)
		}
	}
}

func (s *rankSet) insert(g *group) {
	s.grow(g.ordinal)
	s.byOrd[g.ordinal] = g
	s.add(int(g.ordinal), 1)
	s.n++
}

func (s *rankSet) remove(g *group) {
	s.byOrd[g.ordinal] = nil
	s.add(int(g.ordinal), -1)
	s.n--
}

// at returns the group of rank k (0 = oldest).
func (s *rankSet) at(k int) *group {
	pos, rem := 0, int32(k+1)
	for step := highBit(len(s.tree) - 1); step > 0; step >>= 1 {
		if next := pos + step; next < len(s.tree) && s.tree[next] < rem {
			pos, rem = next, rem-s.tree[next]
		}
	}
	return s.byOrd[pos]
}

func highBit(n int) int {
	b := 1
	for b<<1 <= n {
		b <<= 1
	}
	return b
}

// QueueSelector picks which of n waiting queues, ranked oldest first,
// takes a free slot (spyder's QUEUE_SELECTOR_CLASS). It returns a rank in
// [0, n).
type QueueSelector func(n int) int

var selectors = registry.New[QueueSelector]("queue selector")

func init() {
	selectors.Register("biased", BiasedSelect)
	selectors.Register("uniform", func(n int) int { return rand.IntN(n) })
}

// SelectorNames lists the registered queue selectors, sorted.
func SelectorNames() []string { return selectors.Names() }

// RegisterSelector makes a queue selector available by name; it panics if
// the name is taken.
func RegisterSelector(name string, s QueueSelector) { selectors.Register(name, s) }

// BiasedSelect is spyder's BiasedQueueSelector: rank i (1-based) is chosen
// with probability proportional to 1/i, a harmonic bias towards older
// queues that still lets every queue come up. Spyder walked the n
// cumulative weights on each pick; this samples the same distribution in
// O(1) expected time by rejection from the continuous density 1/x on
// [1, n+1).
func BiasedSelect(n int) int {
	if n <= 1 {
		return 0
	}
	logN := math.Log(float64(n) + 1)
	for {
		x := math.Exp(rand.Float64() * logN)
		i := int(x)
		if i < 1 || i > n {
			continue
		}
		// Accept with P(i) / (M * g(i)) where g(i) = ln(1+1/i)/ln(n+1) is
		// the chance of landing on i, so accepted ranks follow 1/i.
		if rand.Float64()*float64(i)*math.Log1p(1/float64(i)) <= math.Ln2 {
			return i - 1
		}
	}
}
