package frontier

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Operators' politeness controls (spyder set_host_delay / block): a least
// delay per queue, kept in 'D' records, and a hold, which is simply the
// queue's politeness clock moved forward (stored with the queue record).

const pfxDelay = 'D' // 'D' queue8 -> delay8 (ns)

func delayKey(queue uint64) []byte { return binary.BigEndian.AppendUint64([]byte{pfxDelay}, queue) }

// minDelay is q's least delay between two requests.
func (f *Durable) minDelay(q *queueState) time.Duration {
	if q.hasDelay {
		return q.delay
	}
	return f.opts.MinDelay
}

// loadDelays reads the operators' delays into the queues (after the queue
// records are loaded).
func (f *Durable) loadDelays() error {
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxDelay}, UpperBound: []byte{pfxDelay + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 9 || len(v) != 8 {
			return fmt.Errorf("frontier store: corrupt delay record")
		}
		if q := f.queues[binary.BigEndian.Uint64(k[1:])]; q != nil {
			q.delay, q.hasDelay = time.Duration(binary.BigEndian.Uint64(v)), true
		}
	}
	return it.Error()
}

// SetHostDelay implements Frontier.
func (f *Durable) SetHostDelay(host string, d time.Duration, now time.Time) error {
	q := f.queue(f.cfg.queueOf(host), now)
	if d < 0 {
		q.delay, q.hasDelay = 0, false
		return f.b.Delete(delayKey(q.id), nil)
	}
	q.delay, q.hasDelay = d, true
	f.dirty[q] = struct{}{} // its record must exist for the delay to load
	return f.b.Set(delayKey(q.id), binary.BigEndian.AppendUint64(nil, uint64(d)), nil)
}

// BlockHost implements Frontier.
func (f *Durable) BlockHost(host string, until, now time.Time) error {
	q := f.queue(f.cfg.queueOf(host), now)
	if q.grp == nil {
		// Its IP is still being resolved: hold the queue itself, applied
		// to the group it joins.
		if until.After(q.savedAllowed) {
			q.savedAllowed = until
		}
	} else if until.After(q.grp.nextAllowed) {
		q.grp.nextAllowed = until
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return nil
}
