// hostctl.go: per-host controls: politeness delays set by an operator,
// blocks, and the per-host URL caps.

package frontier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Operators' politeness controls: a least delay per queue, and a hold,
// which is the queue's politeness clock moved forward (stored with the
// queue record). Both are kept in 'D' records, the hold's end so that it
// still counts as blocked (not as politeness) after a restart.

func delayKey(queue uint64) []byte { return binary.BigEndian.AppendUint64([]byte{pfxDelay}, queue) }

// minDelay is q's least delay between two requests.
func (f *Durable) minDelay(q *queueState) time.Duration {
	if q.ctl != nil && q.ctl.hasDelay {
		return q.ctl.delay
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
		d, err := decodeDelayRecord(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if q := f.queues.get(d.queue); q != nil {
			q.ctl = &d.hostControl
		}
	}
	return it.Error()
}

// hostControl is an operator's delay (replacing Options.MinDelay when
// hasDelay; SetHostDelay) and block (BlockHost) of a queue.
type hostControl struct {
	delay        time.Duration
	hasDelay     bool
	blockedUntil time.Time
}

// control is q's operator controls, made on first use.
func (q *queueState) control() *hostControl {
	if q.ctl == nil {
		q.ctl = new(hostControl)
	}
	return q.ctl
}

// delayRecord is a 'D' record: a queue's operator delay and block.
type delayRecord struct {
	queue uint64
	hostControl
}

func decodeDelayRecord(k, v []byte) (delayRecord, error) {
	if len(k) != 9 || len(v) != 16 {
		return delayRecord{}, fmt.Errorf("frontier store: corrupt delay record")
	}
	r := delayRecord{queue: binary.BigEndian.Uint64(k[1:])}
	r.blockedUntil = fromUnixNano(int64(binary.BigEndian.Uint64(v[8:])))
	if d := int64(binary.BigEndian.Uint64(v)); d >= 0 {
		r.delay, r.hasDelay = time.Duration(d), true
	}
	return r, nil
}

// BlockedQueues counts the politeness queues with URLs that are held
// beyond politeness at now: by a Retry-After, an operator's block, or a
// robots.txt being retried.
func (f *Durable) BlockedQueues(now time.Time) int64 { return f.held.count(now) }

// SetHostDelay implements Frontier.
func (f *Durable) SetHostDelay(host string, d time.Duration, now time.Time) error {
	q := f.queue(f.cfg.queueOf(host), now)
	c := q.control()
	c.delay, c.hasDelay = max(d, 0), d >= 0
	return f.writeHostControl(q, now)
}

// PolitenessScope implements Frontier.
func (f *Durable) PolitenessScope(host string) string { return f.cfg.queueOf(host) }

// writeHostControl stores q's delay and block (or forgets them).
func (f *Durable) writeHostControl(q *queueState, now time.Time) error {
	c := q.ctl
	if c == nil || !c.hasDelay && !c.blockedUntil.After(now) {
		q.ctl = nil
		return f.b.Delete(delayKey(q.id), nil)
	}
	d := int64(-1)
	if c.hasDelay {
		d = int64(c.delay)
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(d))
	v = binary.BigEndian.AppendUint64(v, uint64(unixNano(c.blockedUntil)))
	f.dirty[q] = struct{}{} // its record must exist for this one to load
	return f.b.Set(delayKey(q.id), v, nil)
}

// BlockHost implements Frontier.
func (f *Durable) BlockHost(host string, until, now time.Time) error {
	q := f.queue(f.cfg.queueOf(host), now)
	if q.grp == nil {
		// Its IP is still being resolved: hold the queue itself, applied
		// to the group it joins.
		f.unjoined[q] = max(f.unjoined[q], unixNano(until))
	} else {
		f.held.hold(q.grp, until, now)
	}
	if c := q.control(); until.After(c.blockedUntil) {
		c.blockedUntil = until
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return f.writeHostControl(q, now)
}

func hostCountKey(host string) []byte { return append([]byte{pfxHostCount}, host...) }

// countHostURL counts one more URL admitted for host, or reports that host
// has Options.MaxURLsPerHost already (and counts the refusal).
func (f *Durable) countHostURL(host string) (bool, error) {
	n, ok := f.hostURLs[host]
	if !ok {
		v, closer, err := f.b.Get(hostCountKey(host))
		switch {
		case errors.Is(err, pebble.ErrNotFound):
		case err != nil:
			return false, fmt.Errorf("frontier store: reading the URL count of %s: %w", host, err)
		default:
			if len(v) == 8 {
				n = int64(binary.BigEndian.Uint64(v))
			}
			closer.Close()
		}
	}
	if n >= f.opts.MaxURLsPerHost {
		f.hostURLs[host] = n
		f.stats.TooMany++
		return false, nil
	}
	f.hostURLs[host] = n + 1
	f.hostsCounted[host] = struct{}{}
	return true, nil
}

// writeHostCounts stores the counts changed since the last Commit (once
// per host per commit, not once per admission).
func (f *Durable) writeHostCounts() error {
	for host := range f.hostsCounted {
		if err := f.b.Set(hostCountKey(host), binary.BigEndian.AppendUint64(nil, uint64(f.hostURLs[host])), nil); err != nil {
			return err
		}
		delete(f.hostsCounted, host)
	}
	return nil
}
