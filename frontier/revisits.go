// revisits.go: bringing a revisit forward when a site says a page changed
// (a sitemap's <lastmod>) after its last fetch.

package frontier

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/urlx"
)

// A Change is a URL its site says changed at At: a sitemap's <lastmod>.
type Change struct {
	URL string
	At  time.Time
}

// A RevisitAdvancer brings revisits forward. A store that is one
// implements it; without it a sitemap's <lastmod> only orders new URLs.
type RevisitAdvancer interface {
	// AdvanceRevisits makes each URL of changes that is scheduled for a
	// revisit, and whose last result came before its At, due at now (its
	// host's politeness still applies). URLs queued, in flight, never
	// seen, or not to be revisited are left as they are. It returns how
	// many it moved.
	AdvanceRevisits(changes []Change, now time.Time) (moved int, err error)
}

// Revisits gives the revisit advancer of frontier f's store, if it has one.
func Revisits(f Frontier) (RevisitAdvancer, bool) { return capability[RevisitAdvancer](f) }

// lastResult is the time of the record's latest result, zero when it has
// none (or its history no longer holds one).
func (r *urlRecord) lastResult() time.Time {
	for i := len(r.history) - 1; i >= 0; i-- {
		if r.history[i].kind == evResult {
			return time.Unix(0, r.history[i].at)
		}
	}
	return time.Time{}
}

// AdvanceRevisits implements RevisitAdvancer. A scheduled URL's queue
// entry is found by its record's due time and priority, which lead its
// key; it is deleted and queued again at now, in the turn's batch.
func (f *Durable) AdvanceRevisits(changes []Change, now time.Time) (int, error) {
	moved := 0
	for _, c := range changes {
		k := urlx.KeyOf(c.URL)
		rec, err := f.getRecord(k)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return moved, fmt.Errorf("frontier store: advancing the revisit of %s: %w", c.URL, err)
		}
		if rec.state != stateScheduled || rec.due <= now.UnixNano() || !rec.lastResult().Before(c.At) {
			continue
		}
		q := f.queues.get(rec.queue)
		if q == nil {
			continue
		}
		ok, err := f.unqueue(q, k, &rec)
		if err != nil {
			return moved, fmt.Errorf("frontier store: advancing the revisit of %s: %w", c.URL, err)
		}
		if !ok {
			continue // (a record without its entry: inspect shows it)
		}
		rec.due = now.UnixNano()
		if err := f.enqueue(k, &rec, q); err != nil {
			return moved, err
		}
		if err := f.b.Set(urlKey(k), rec.encode(), nil); err != nil {
			return moved, err
		}
		f.dirty[q] = struct{}{}
		f.touch(q, now)
		moved++
	}
	return moved, nil
}

// unqueue deletes the queue entry of the URL k, queued in q under rec's
// due time and priority, and reports whether there was one. q's
// read-ahead, which may hold it, is dropped: the next read takes the
// queue from the store.
func (f *Durable) unqueue(q *queueState, k urlx.Key, rec *urlRecord) (bool, error) {
	prefix := appendQueueKey(nil, q.id, rec.queueDue(), rec.priority, 0)[:1+8+8+2]
	// (The queues' shared iterator, re-aimed: a sitemap may name
	// thousands of changed pages.)
	it, err := f.sharedIter(&f.qit, &pebble.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return false, err
	}
	var key []byte
	for ok := it.First(); ok; ok = it.Next() {
		if v := it.Value(); len(v) >= len(k) && bytes.Equal(v[:len(k)], k[:]) && !f.isLeased(it.Key()) {
			key = append([]byte(nil), it.Key()...)
			break
		}
	}
	if err := it.Error(); err != nil || key == nil {
		return false, err
	}
	if err := f.b.Delete(key, nil); err != nil {
		return false, err
	}
	q.queued--
	if rec.state == stateScheduled {
		f.stats.Scheduled--
	} else {
		f.stats.Queued--
	}
	q.dropBuffer()
	return true, nil
}
