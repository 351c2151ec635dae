package frontier

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

func init() {
	Register("single_host", func(opts Options) (Frontier, error) { return NewSingleHost(opts), nil })
}

// SingleHost is spyder's SingleHostFrontier: one politeness clock for the
// whole crawl (as if every URL were on one host), URLs handed out earliest
// due first, each URL crawled once. State is kept in memory.
type SingleHost struct {
	opts         Options
	seen         map[Key]struct{}
	queue        dueHeap
	inFlight     map[string]*entry
	nextPossible time.Time // politeness: no dispatch before this
	seq          uint64
	done, failed int64
}

type entry struct {
	url      string
	due      time.Time
	priority int16
	seq      uint64
	index    int // position in the heap, -1 when not queued
}

// NewSingleHost returns an empty in-memory single-host frontier.
func NewSingleHost(opts Options) *SingleHost {
	return &SingleHost{opts: opts, seen: map[Key]struct{}{}, inFlight: map[string]*entry{}}
}

// Add implements Frontier.
func (f *SingleHost) Add(urls []string, now time.Time) (int, error) {
	added := 0
	for _, u := range urls {
		k := KeyOf(u)
		if _, ok := f.seen[k]; ok {
			continue
		}
		f.seen[k] = struct{}{}
		pushEntry(f, &entry{url: u, due: now, priority: 1})
		added++
	}
	return added, nil
}

// Next implements Frontier. With a politeness delay only one URL leaves per
// delay; with none, up to max due URLs leave at once.
func (f *SingleHost) Next(now time.Time, max int) ([]*crawluri.CrawlUri, error) {
	var out []*crawluri.CrawlUri
	for len(out) < max && len(f.queue) > 0 && !now.Before(f.nextPossible) {
		e := f.queue[0]
		if e.due.After(now) {
			break
		}
		heap.Pop(&f.queue)
		f.inFlight[e.url] = e
		out = append(out, &crawluri.CrawlUri{URL: e.url, EffectiveURL: e.url, CurrentPriority: e.priority})
		if f.opts.MinDelay > 0 {
			f.nextPossible = now.Add(f.opts.MinDelay)
		}
	}
	return out, nil
}

// NextDue implements Frontier.
func (f *SingleHost) NextDue(now time.Time) time.Time {
	if len(f.queue) == 0 {
		return time.Time{}
	}
	due := f.queue[0].due
	if f.nextPossible.After(due) {
		due = f.nextPossible
	}
	return due
}

// Done implements Frontier: 2xx and 3xx count as done, everything else as
// failed; the politeness clock moves by the fetch's duration either way.
func (f *SingleHost) Done(res *crawluri.CrawlUri, links []string, now time.Time) (int, error) {
	if _, ok := f.inFlight[res.URL]; !ok {
		return 0, fmt.Errorf("%w: %s", ErrNotInFlight, res.URL)
	}
	delete(f.inFlight, res.URL)
	if res.StatusCode >= 200 && res.StatusCode < 400 {
		f.done++
	} else {
		f.failed++
	}
	if next := now.Add(politeDelay(f.opts, res.ReqTime)); next.After(f.nextPossible) {
		f.nextPossible = next
	}
	return f.Add(links, now)
}

// Release implements Frontier.
func (f *SingleHost) Release(url string, now time.Time) error {
	e, ok := f.inFlight[url]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotInFlight, url)
	}
	delete(f.inFlight, url)
	e.due = now
	pushEntry(f, e)
	return nil
}

// pushEntry queues e behind everything queued before it with the same due
// time and priority.
func pushEntry(f *SingleHost, e *entry) {
	f.seq++
	e.seq = f.seq
	heap.Push(&f.queue, e)
}

// Stats implements Frontier.
func (f *SingleHost) Stats() Stats {
	return Stats{
		Seen:     int64(len(f.seen)),
		Queued:   int64(len(f.queue)),
		InFlight: int64(len(f.inFlight)),
		Done:     f.done,
		Failed:   f.failed,
	}
}

// Close implements Frontier.
func (f *SingleHost) Close() error { return nil }

// dueHeap orders entries by due time, then priority, then admission order.
type dueHeap []*entry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	if a.priority != b.priority {
		return a.priority < b.priority
	}
	return a.seq < b.seq
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
