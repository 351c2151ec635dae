// load.go: reading the store when the frontier opens: counters, queues,
// the leases of a previous master (queued again), the meta record.

package frontier

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/urlx"
)

func (f *Durable) load(now time.Time) error {
	if err := f.loadMeta(); err != nil {
		return err
	}
	// Queues: their clocks and sizes, and the due time of each head.
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxHost}, UpperBound: []byte{pfxHost + 1}})
	if err != nil {
		return err
	}
	var loaded []*queueState
	var clocks []int64 // of the loaded queues, for their groups
	for it.First(); it.Valid(); it.Next() {
		q, pos := f.allocQueue()
		clock, err := f.decodeQueueRecordTo(q, it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		f.queues.add(pos)
		loaded = append(loaded, q)
		clocks = append(clocks, clock)
		f.queueSeq = max(f.queueSeq, q.ordinal+1)
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := f.loadDelays(); err != nil {
		return err
	}
	if f.format < 4 {
		// Records without heads: read the heads from the entries, once;
		// the commit below rewrites every record with its head.
		if err := f.loadHeads(loaded); err != nil {
			return err
		}
		for _, q := range loaded {
			f.dirty[q] = struct{}{}
		}
	}
	for i, q := range loaded {
		f.assign(q, clocks[i], now)
	}
	// Lease records of the previous run: the entries they list that are
	// still stored were in flight at the stop, and are queued again simply
	// by being there. The records go.
	inFlight := 0
	it, err = f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxLease}, UpperBound: []byte{pfxLease + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		entries, err := decodeLeaseRecord(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		for _, e := range entries {
			if _, closer, err := f.db.Get(e.qkey); err == nil {
				closer.Close()
				inFlight++
				// A queue record's head leaves its leased entries out.
				if q := f.queues.get(queueKeyQueue(e.qkey)); q != nil {
					q.headAtMost(queueKeyDue(e.qkey))
				}
			}
		}
		if err := f.b.Delete(append([]byte(nil), it.Key()...), nil); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if f.nextLease < now.UnixNano() {
		f.nextLease = now.UnixNano() // distinct from any lease a worker may still hold
	}
	for _, q := range loaded {
		f.touch(q, now)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	f.format = storeFormat
	if inFlight > 0 {
		f.opts.Logger.Info().Int("leases", inFlight).Msg("frontier: URLs in flight at the last stop are queued again")
	}
	return nil
}

// loadHeads reads the due time of the first entry of every queue with
// URLs (a format 3 store's queue records have none). The queues come in
// key order, and so do their entries: each seek goes forward from the
// last, which Pebble turns into a few steps instead of a seek from the top
// of each level. On a large store the queues are split into contiguous
// runs read side by side, one iterator each (a restart on a million hosts
// spent 4 s here, one fresh seek per queue).
func (f *Durable) loadHeads(loaded []*queueState) error {
	return f.readHeadsInRuns(loaded, min(runtime.GOMAXPROCS(0), 8, max(len(loaded)/loadHeadsRun, 1)))
}

// loadHeadsRun is the fewest queues worth an iterator of their own.
const loadHeadsRun = 16 << 10

// readHeadsInRuns reads the heads of queues, in key order, in that many
// runs side by side.
func (f *Durable) readHeadsInRuns(queues []*queueState, runs int) error {
	// Nothing is leased before the store is loaded, so nothing is skipped.
	if len(f.leasedQ) != 0 {
		return errors.New("frontier: queue heads read after leases were made")
	}
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for r := range runs {
		run := queues[r*len(queues)/runs : (r+1)*len(queues)/runs]
		wg.Go(func() { errs[r] = f.readHeads(run) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readHeads reads the heads of queues, which are in key order.
func (f *Durable) readHeads(queues []*queueState) error {
	if len(queues) == 0 {
		return nil
	}
	it, err := f.db.NewIter(&pebble.IterOptions{
		LowerBound: queuePrefix(queues[0].id),
		UpperBound: upperBound(queuePrefix(queues[len(queues)-1].id)),
	})
	if err != nil {
		return err
	}
	for _, q := range queues {
		if q.queued <= 0 {
			continue
		}
		p := queuePrefix(q.id)
		if it.SeekGE(p) && bytes.HasPrefix(it.Key(), p) {
			q.headDue = queueKeyDue(it.Key())
		} else {
			q.queued = 0 // its record counted entries that are gone
		}
	}
	return errors.Join(it.Error(), it.Close())
}

func (f *Durable) loadMeta() error {
	f.format = storeFormat // a new store
	v, closer, err := f.db.Get(metaKey("state"))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) < metaFieldsV3*8 || len(v) > metaFields*8 || len(v)%8 != 0 { // later counters were appended to format 3
		return fmt.Errorf("frontier store: corrupt meta record (%d bytes; written by another version of spyder?)", len(v))
	}
	r := func(i int) int64 { return int64(binary.BigEndian.Uint64(v[8*i:])) }
	f.stats = Stats{Seen: r(0), Queued: r(1), Done: r(2), Failed: r(3), Scheduled: r(6), Retried: r(7)}
	for i, dst := range []*int64{&f.stats.Disallowed, &f.stats.TooDeep, &f.stats.TooMany} {
		if len(v) >= (metaFieldsV3+i+1)*8 {
			*dst = r(metaFieldsV3 + i)
		}
	}
	f.seq, f.nextLease = uint64(r(4)), r(5)
	if f.format = r(8); f.format != 3 && f.format != storeFormat {
		return fmt.Errorf("frontier store: format %d, this spyder reads formats 3 and %d", f.format, storeFormat)
	}
	return nil
}

func (f *Durable) writeMeta() error { return f.b.Set(metaKey("state"), f.metaRecord(), nil) }

func (f *Durable) metaRecord() []byte {
	v := make([]byte, 0, metaFields*8)
	// Leased URLs are stored as what they were: a restart queues them again.
	for _, n := range []int64{f.stats.Seen, f.stats.Queued + f.leasedQueued, f.stats.Done, f.stats.Failed, int64(f.seq), f.nextLease, f.stats.Scheduled + f.leasedScheduled, f.stats.Retried, storeFormat, f.stats.Disallowed, f.stats.TooDeep, f.stats.TooMany} {
		v = binary.BigEndian.AppendUint64(v, uint64(n))
	}
	return v
}

func (f *Durable) writeQueue(q *queueState) error {
	return f.b.Set(hostKey(q.id), f.queueRecord(q), nil)
}

func (f *Durable) getRecord(k urlx.Key) (urlRecord, error) {
	v, closer, err := f.b.Get(urlKey(k))
	if err != nil {
		return urlRecord{}, err
	}
	defer closer.Close()
	return decodeURLRecord(v)
}
