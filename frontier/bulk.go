// bulk.go: offline bulk seeding (spyder frontier inject): URLs normalised
// in parallel and ingested as sorted tables.

package frontier

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"

	"github.com/spyder-crawl/spyder/urlx"
)

// BulkLoader is implemented by frontiers that can admit a large number of
// seeds faster than AddSeeds followed by Commit, with the same outcome;
// `spyder frontier inject` uses it when it is there.
type BulkLoader interface {
	// BulkAddSeeds is AddSeeds and Commit in one durable step.
	BulkAddSeeds(urls []string, now time.Time) (added int, err error)
}

var _ BulkLoader = (*Durable)(nil)

// BulkAddSeeds implements BulkLoader by writing the new URLs, their queue
// entries, the queue records, the seed hosts and the counters into one
// sorted table and ingesting it: the data goes to disk once, with no
// write-ahead log, memtable or compaction on the way (the LSM way to bulk
// load), and the ingestion is atomic, so a kill -9 leaves all of it or none.
func (f *Durable) BulkAddSeeds(urls []string, now time.Time) (int, error) {
	if err := f.Commit(); err != nil { // what came before stays before
		return 0, err
	}
	if err := f.waitSynced(); err != nil {
		return 0, err
	}
	// Hashing, parsing and encoding the URLs is most of the work: spread
	// it over the cores. Records are encoded once and written twice (the
	// URL's record, and its copy in the queue entry).
	n := len(urls)
	keys := make([]urlx.Key, n)
	hosts := make([]string, n)
	qids := make([]uint64, n)
	recs := make([][]byte, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			hosts[i] = urlx.Host(urls[i])
			qids[i] = queueID(f.cfg.queueOf(hosts[i]))
			keys[i] = urlx.KeyOf(urls[i])
			rec := newRecord(urls[i], qids[i], now, "seed")
			recs[i] = rec.encode()
		}
	})
	// The seen set's order, without repeats.
	type ref struct {
		k urlx.Key
		i int32
	}
	byKey := make([]ref, n)
	for i := range byKey {
		byKey[i] = ref{keys[i], int32(i)}
	}
	slices.SortFunc(byKey, func(a, b ref) int { return compareKeys(&a.k, &b.k) })
	byKey = slices.CompactFunc(byKey, func(a, b ref) bool { return a.k == b.k })

	// Drop the URLs already known: a sorted walk of the seen set, with the
	// Bloom filters of every level.
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxURL}, UpperBound: []byte{pfxURL + 1}, UseL6Filters: true})
	if err != nil {
		return 0, fmt.Errorf("frontier store: %w", err)
	}
	if it.First() {
		fresh := byKey[:0]
		var uk []byte
		for _, r := range byKey {
			uk = append(append(uk[:0], pfxURL), r.k[:]...)
			if it.SeekPrefixGE(uk) && bytes.Equal(it.Key(), uk) {
				continue
			}
			fresh = append(fresh, r)
		}
		byKey = fresh
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("frontier store: %w", err)
	}
	if len(byKey) == 0 {
		return 0, nil
	}

	// The queues' order: by queue, then input order, which the sequence
	// numbers follow, so the entries come out sorted.
	type qref struct {
		queue uint64
		i     int32
	}
	byQueue := make([]qref, len(byKey))
	for j, r := range byKey {
		byQueue[j] = qref{qids[r.i], r.i}
	}
	slices.SortFunc(byQueue, func(a, b qref) int {
		if c := cmp.Compare(a.queue, b.queue); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	seqs := make([]uint64, n)
	var touched []*queueState
	f.bulkGen++
	var q *queueState
	for _, r := range byQueue {
		if q == nil || q.id != r.queue {
			if q = f.queues[r.queue]; q == nil {
				q = f.queue(f.cfg.queueOf(hosts[r.i]), now)
			}
			if q.bulkGen != f.bulkGen {
				q.bulkGen = f.bulkGen
				touched = append(touched, q)
				f.dirty[q] = struct{}{} // its record goes into the table
			}
		}
		f.seq++
		seqs[r.i] = f.seq
		if head := time.Unix(0, newURLDue); q.queued == 0 || head.Before(q.headDue) {
			q.headDue = head
		}
		q.queued++
	}
	f.stats.Seen += int64(len(byKey))
	f.stats.Queued += int64(len(byKey))

	queues := make([]*queueState, 0, len(f.dirty))
	for q := range f.dirty {
		queues = append(queues, q)
	}
	sort.Slice(queues, func(i, j int) bool { return queues[i].id < queues[j].id })
	seedSet := map[string]struct{}{}
	for _, r := range byKey {
		if h := hosts[r.i]; h != "" {
			seedSet[h] = struct{}{}
		}
	}
	seeds := make([]string, 0, len(seedSet))
	for h := range seedSet {
		seeds = append(seeds, h)
	}
	slices.Sort(seeds)

	// Two tables, written at once: the URL records ('U', the bulk of it),
	// and everything else in key order (H < M < Q < S). Both are ingested
	// in one atomic step.
	var uTable, rest bulkTable
	var uErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		uErr = uTable.write(f, "u", func(set func(k, v []byte) error) error {
			uk := make([]byte, 17)
			uk[0] = pfxURL
			for _, r := range byKey {
				copy(uk[1:], r.k[:])
				if err := set(uk, recs[r.i]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	err = rest.write(f, "rest", func(set func(k, v []byte) error) error {
		for _, q := range queues {
			if err := set(hostKey(q.id), f.queueRecord(q)); err != nil {
				return err
			}
		}
		if err := set(metaKey("state"), f.metaRecord()); err != nil {
			return err
		}
		var qv []byte
		for _, r := range byQueue {
			qk := queueKey(r.queue, newURLDue, 1, seqs[r.i])
			qv = append(append(qv[:0], keys[r.i][:]...), recs[r.i]...)
			if err := set(qk, qv); err != nil {
				return err
			}
		}
		for _, h := range seeds {
			if err := set(append([]byte{pfxSeed}, h...), nil); err != nil {
				return err
			}
		}
		return nil
	})
	wg.Wait()
	if err == nil {
		err = uErr
	}
	if err == nil {
		// The shared queue iterator would keep seeing the store as it was.
		err = f.closeIters()
	}
	if err == nil {
		err = f.db.Ingest(context.Background(), []string{rest.path, uTable.path})
	}
	if err != nil {
		uTable.remove(f)
		rest.remove(f)
		// The memory state ran ahead of the store: commit nothing more (a
		// reopen rebuilds memory from the store).
		f.broken = fmt.Errorf("frontier store: bulk load: %w", err)
		return 0, f.broken
	}
	clear(f.dirty)
	for _, q := range touched {
		q.buf, q.bufToEnd, q.cursor = nil, false, nil
		f.touch(q, now)
	}
	return len(byKey), nil
}

// bulkTable is one table file of a bulk load.
type bulkTable struct{ path string }

// write creates the table and fills it through fill, whose set must be
// called in key order; the file is synced on close, as Ingest requires.
func (t *bulkTable) write(f *Durable, name string, fill func(set func(k, v []byte) error) error) error {
	t.path = f.po.FS.PathJoin(f.dir, fmt.Sprintf("bulk-%d-%s.sst", f.bulkGen, name))
	file, err := f.po.FS.Create(t.path, "")
	if err != nil {
		return fmt.Errorf("bulk table: %w", err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(file), f.po.MakeWriterOptions(len(f.po.Levels)-1, f.db.TableFormat()))
	err = fill(w.Set)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func (t *bulkTable) remove(f *Durable) {
	if t.path != "" {
		_ = f.po.FS.Remove(t.path)
	}
}

// compareKeys orders keys as bytes.Compare would, eight bytes at a time.
func compareKeys(a, b *urlx.Key) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// parallel runs work over [0, n) split into one range per CPU.
func parallel(n int, work func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), max(n/4096, 1))
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { work(lo, hi) })
	}
	wg.Wait()
}

// NormalizeAll passes a batch of seeds through the gate on every core
// (offline inject; the gate has no scope: the frontier records the seeds'
// hosts). It returns the normalized URLs
// in input order without the refused ones, which it reports to bad (in
// input order, from the caller's goroutine).
func NormalizeAll(g *urlx.Gate, raw []string, bad func(i int, err error)) []string {
	out := make([]string, len(raw))
	errs := make([]error, len(raw))
	parallel(len(raw), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = g.Seed(raw[i])
		}
	})
	kept := out[:0]
	for i, u := range out {
		if errs[i] != nil {
			bad(i, errs[i])
			continue
		}
		kept = append(kept, u)
	}
	return kept
}
