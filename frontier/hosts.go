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
	top := &queueHeap{}
	f.held.prune(now)
	f.queues.each(func(q *queueState) {
		if q.queued > 0 && (top.Len() < n || q.queued > (*top)[0].queued) {
			heap.Push(top, q)
			if top.Len() > n {
				heap.Pop(top)
			}
		}
		if q.queued > 0 {
			if r := f.hostReport(q, now); r.Held != "" {
				held = append(held, r)
			}
		}
	})
	for _, q := range *top {
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

// queueHeap is a min-heap of queues by URLs queued.
type queueHeap []*queueState

func (h queueHeap) Len() int           { return len(h) }
func (h queueHeap) Less(i, j int) bool { return h[i].queued < h[j].queued }
func (h queueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *queueHeap) Push(x any)        { *h = append(*h, x.(*queueState)) }
func (h *queueHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	*h = old[:len(old)-1]
	return q
}
