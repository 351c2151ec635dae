// hosts.go: a live crawl's busiest and held politeness queues, for the
// master's dashboard.

package frontier

import (
	"container/heap"
	"sort"
	"time"
)

// A HostReport is one politeness queue (a host, an IP address, or the
// whole crawl for single_host) of a running crawl.
type HostReport struct {
	Name string `json:"name"`
	// Queued counts the URLs in its queue: new ones, retries and
	// scheduled revisits, those in flight not.
	Queued int64 `json:"queued"`
	// NextAllowed is when the queue may dispatch again (its politeness
	// clock, moved on by holds); zero when it may now.
	NextAllowed time.Time `json:"next_allowed,omitzero"`
	// Held says why the queue waits beyond politeness: "operator block"
	// (spyder host --block-for), or "Retry-After or robots.txt retry";
	// empty when it does not.
	Held string `json:"held,omitempty"`
}

// A HostLister reports a running crawl's queues. A store that is one
// implements it; without it the dashboard lists no hosts.
type HostLister interface {
	// BusiestHosts returns up to n queues with the most URLs queued, most
	// first, and the first n by name of the queues held beyond politeness
	// at now.
	BusiestHosts(n int, now time.Time) (busiest, held []HostReport, err error)
}

// Hosts gives the host lister of frontier f's store, if it has one.
func Hosts(f Frontier) (HostLister, bool) { return capability[HostLister](f) }

// BusiestHosts implements HostLister from the queues in memory: one walk
// of them (a million queues take a few milliseconds; the dashboard asks
// every few seconds).
func (f *Durable) BusiestHosts(n int, now time.Time) (busiest, held []HostReport, err error) {
	top := NewTopQueued(n, func(q *queueState) int64 { return q.queued })
	f.held.prune(now)
	f.queues.each(func(q *queueState) {
		if q.queued > 0 {
			top.Offer(q)
			if r := f.hostReport(q, now); r.Held != "" {
				held = append(held, r)
			}
		}
	})
	for _, q := range top.Items() {
		busiest = append(busiest, f.hostReport(q, now))
	}
	SortHostReports(busiest, held)
	return busiest, held[:min(len(held), n)], nil
}

// SortHostReports puts busiest in the order a HostLister returns them
// (most queued first, then by name) and held by name.
func SortHostReports(busiest, held []HostReport) {
	sort.Slice(busiest, func(i, j int) bool {
		if busiest[i].Queued != busiest[j].Queued {
			return busiest[i].Queued > busiest[j].Queued
		}
		return busiest[i].Name < busiest[j].Name
	})
	sort.Slice(held, func(i, j int) bool { return held[i].Name < held[j].Name })
}

// hostReport describes q at now.
func (f *Durable) hostReport(q *queueState, now time.Time) HostReport {
	r := HostReport{Name: q.name, Queued: q.queued}
	g := q.grp
	if g == nil {
		return r
	}
	if g.nextAllowed > now.UnixNano() {
		r.NextAllowed = time.Unix(0, g.nextAllowed)
	}
	switch {
	case q.ctl != nil && q.ctl.blockedUntil.After(now):
		r.Held = "operator block"
	case f.held.until[g] > now.UnixNano():
		r.Held = "Retry-After or robots.txt retry"
	}
	return r
}

// TopQueued keeps, of the items offered, the n with the most URLs
// queued (by queued): a min-heap of n, so that listing the busiest of a
// million queues costs a comparison each. Items returns them in no order.
type TopQueued[T any] struct {
	h topHeap[T]
	n int
}

// NewTopQueued keeps the n items with the most URLs queued.
func NewTopQueued[T any](n int, queued func(T) int64) *TopQueued[T] {
	return &TopQueued[T]{h: topHeap[T]{queued: queued}, n: n}
}

// Offer keeps x if it is among the n largest so far.
func (t *TopQueued[T]) Offer(x T) {
	if t.n <= 0 || len(t.h.items) == t.n && t.h.queued(x) <= t.h.queued(t.h.items[0]) {
		return
	}
	heap.Push(&t.h, x)
	if len(t.h.items) > t.n {
		heap.Pop(&t.h)
	}
}

// Items returns the items kept.
func (t *TopQueued[T]) Items() []T { return t.h.items }

type topHeap[T any] struct {
	items  []T
	queued func(T) int64
}

func (h topHeap[T]) Len() int           { return len(h.items) }
func (h topHeap[T]) Less(i, j int) bool { return h.queued(h.items[i]) < h.queued(h.items[j]) }
func (h topHeap[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topHeap[T]) Push(x any)        { h.items = append(h.items, x.(T)) }
func (h *topHeap[T]) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}
