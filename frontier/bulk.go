// bulk.go: offline bulk seeding (spyder frontier inject): URLs normalised
// in parallel, sorted outside memory and ingested as tables.

package frontier

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/urlx"
)

// BulkLoader is implemented by frontiers that can admit a large number of
// seeds much faster than AddSeeds and Commit; `spyder frontier inject`
// loads through it (NewBulkLoad).
type BulkLoader interface {
	// BulkLoad starts a load of seeds admitted at now. Nothing else may
	// use the frontier until it is finished or aborted.
	BulkLoad(now time.Time) (BulkLoad, error)
}

// A BulkLoad takes seeds in any number of Adds and admits them at Finish,
// with the outcome AddSeeds would have had: each new URL once, known ones
// not again, every seed's host in the scope.
type BulkLoad interface {
	Add(urls []string) error
	// Finish admits what was added; what it reports added is durable.
	Finish() (added int, err error)
	// Abort gives the load up and removes what it wrote.
	Abort()
}

// NewBulkLoad starts a bulk load of f: its own if f is a BulkLoader,
// otherwise one that adds and commits each Add's URLs as they come.
func NewBulkLoad(f Frontier, now time.Time) (BulkLoad, error) {
	if b, ok := f.(BulkLoader); ok {
		return b.BulkLoad(now)
	}
	return &batchLoad{f: f, now: now}, nil
}

// BulkAddSeeds admits urls through one bulk load of f.
func BulkAddSeeds(f BulkLoader, urls []string, now time.Time) (int, error) {
	l, err := f.BulkLoad(now)
	if err != nil {
		return 0, err
	}
	if err := l.Add(urls); err != nil {
		l.Abort()
		return 0, err
	}
	return l.Finish()
}

// batchLoad is the BulkLoad of a frontier that has none: every Add is an
// AddSeeds and a Commit, durable at once.
type batchLoad struct {
	f     Frontier
	now   time.Time
	added int
}

func (b *batchLoad) Add(urls []string) error {
	n, err := b.f.AddSeeds(urls, b.now)
	b.added += n
	if err != nil {
		return err
	}
	return b.f.Commit()
}

func (b *batchLoad) Finish() (int, error) { return b.added, nil }
func (b *batchLoad) Abort()               {}

var _ BulkLoader = (*Durable)(nil)

// durableLoad is the Durable's bulk load, an external sort. Add hashes the
// URLs on every core and appends each to two spills (while the next chunk
// is read): by URL key (the seen set's order) and by queue. Finish sorts
// one bucket at a time per core, drops repeats and known URLs, and writes
// the records and queue entries into tables that overlap neither each
// other nor (in a new store) anything else; one ingest then makes all of
// it durable at once, in the bottom level. Each URL is written to disk
// twice (spill, table) and never compacted, where tables ingested chunk by
// chunk overlapped every earlier chunk (the keys are hashes) and were
// rewritten by compactions level after level: 10M URLs took 98-117 s that
// way. A kill -9 before the ingest leaves the store as it was.
type durableLoad struct {
	f        *Durable
	now      time.Time
	dir      string         // the spill files'
	byKey    *spill         // URL key -> queue and URL
	byQueue  *spill         // queue -> URL key and URL
	records  recordTemplate // every seed's record but its URL and queue
	n        uint64         // URLs added so far; each is known by its index
	spilling chan error
	err      error // the first failure: the load can only be aborted
	finished bool
}

// BulkLoad implements BulkLoader.
func (f *Durable) BulkLoad(now time.Time) (BulkLoad, error) {
	var dir string
	var err error
	if f.opts.Dir == "" {
		dir, err = os.MkdirTemp("", "spyder-bulk-")
	} else {
		// One place, so that the next load clears what a killed one left.
		dir = filepath.Join(f.opts.Dir, "bulk-spill")
		if err = os.RemoveAll(dir); err == nil {
			err = os.Mkdir(dir, 0o700)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bulk load: spill directory: %w", err)
	}
	l := &durableLoad{f: f, now: now, dir: dir, records: newRecordTemplate(newRecord("", 0, now, "seed"))}
	if l.byKey, err = newSpill(dir, "u"); err == nil {
		l.byQueue, err = newSpill(dir, "q")
	}
	if err != nil {
		l.Abort()
		return nil, err
	}
	return l, nil
}

// Add implements BulkLoad.
func (l *durableLoad) Add(urls []string) error {
	if l.err != nil {
		return l.err
	}
	f := l.f
	urls = slices.Clone(urls) // spilled after Add returns
	keys := make([]urlx.Key, len(urls))
	qids := make([]uint64, len(urls))
	parallel(len(urls), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			qids[i] = queueID(f.cfg.queueOf(urlx.Host(urls[i])))
			keys[i] = urlx.KeyOf(urls[i])
		}
	})
	// This chunk was hashed while the last one was spilled.
	if err := l.waitSpilled(); err != nil {
		return err
	}
	base := l.n
	l.n += uint64(len(urls))
	l.spilling = make(chan error, 1)
	go func() { l.spilling <- l.spill(base, urls, keys, qids) }()
	return nil
}

// spill appends a chunk's URLs to the spills. The records are not: all
// but their URL and queue are the same in a load, so Finish encodes them
// as it writes the tables, and the spills are half as large.
func (l *durableLoad) spill(base uint64, urls []string, keys []urlx.Key, qids []uint64) error {
	var byQueue [16]byte // the queue, then zeros
	for i, u := range urls {
		binary.BigEndian.PutUint64(byQueue[:], qids[i])
		key := (*[16]byte)(keys[i][:])
		if err := l.byKey.add(key, base+uint64(i), byQueue[:8], u); err != nil {
			return err
		}
		if err := l.byQueue.add(&byQueue, base+uint64(i), key[:], u); err != nil {
			return err
		}
	}
	return nil
}

// waitSpilled waits for the last chunk's spill, and reports the load's
// first failure.
func (l *durableLoad) waitSpilled() error {
	if l.spilling != nil {
		if err := <-l.spilling; err != nil && l.err == nil {
			l.err = err
		}
		l.spilling = nil
	}
	return l.err
}

// Finish implements BulkLoad.
func (l *durableLoad) Finish() (int, error) {
	added, err := l.finish()
	l.Abort() // the spill files are spent either way
	return added, err
}

func (l *durableLoad) finish() (int, error) {
	f := l.f
	if err := l.waitSpilled(); err != nil {
		return 0, err
	}
	if err := l.byKey.flush(); err != nil {
		return 0, err
	}
	if err := l.byQueue.flush(); err != nil {
		return 0, err
	}
	if err := f.Commit(); err != nil { // what came before stays before
		return 0, err
	}
	if err := f.waitSynced(); err != nil {
		return 0, err
	}
	f.bulkGen++
	start := time.Now()
	fresh := make([]atomic.Uint64, (l.n+63)/64)
	uTables, added, err := l.writeURLs(fresh)
	if err != nil {
		return 0, err
	}
	tables := uTables
	defer func() {
		if err != nil {
			for _, t := range tables {
				t.remove()
			}
		}
	}()
	isFresh := func(idx uint64) bool { return fresh[idx/64].Load()&(1<<(idx%64)) != 0 }
	qTables, runs, seeds, err := l.writeEntries(isFresh, f.seq)
	tables = append(tables, qTables...)
	if err != nil {
		return 0, err
	}
	f.opts.Logger.Info().Uint64("urls", l.n).Int("added", added).Int("queues", len(runs)).
		Dur("elapsed", time.Since(start)).Msg("bulk load: tables written")

	// The queues, in memory and in their records (Commit left none
	// dirty); then the counters and the seed hosts.
	f.seq += l.n
	f.stats.Seen += int64(added)
	f.stats.Queued += int64(added)
	rest := f.newTableSeq("rest", false)
	tables = append(tables, rest)
	f.reserveQueues(len(runs))
	touched := make([]*queueState, 0, len(runs))
	for _, r := range runs {
		q := f.queues.get(r.queue)
		if q == nil {
			q = f.queue(f.cfg.queueOf(r.host), l.now)
		}
		q.headAtMost(newURLDue)
		q.queued += r.n
		touched = append(touched, q)
		delete(f.dirty, q) // its record goes into the table
		if err = rest.set(hostKey(q.id), f.queueRecord(q)); err != nil {
			return 0, err
		}
	}
	if err = rest.set(metaKey("state"), f.metaRecord()); err != nil {
		return 0, err
	}
	seedTable := f.newTableSeq("s", false)
	tables = append(tables, seedTable)
	var sk []byte
	for _, h := range seeds {
		sk = append(append(sk[:0], pfxSeed), h...)
		if err = seedTable.set(sk, nil); err != nil {
			return 0, err
		}
	}
	var paths []string
	for _, t := range tables {
		if err = t.close(); err != nil {
			return 0, err
		}
		paths = append(paths, t.paths...)
	}
	// The shared queue iterator would keep seeing the store as it was.
	if err = f.closeIters(); err == nil {
		err = f.db.Ingest(context.Background(), paths)
	}
	if err != nil {
		// The memory state ran ahead of the store: commit nothing more (a
		// reopen rebuilds memory from the store).
		f.broken = fmt.Errorf("frontier store: bulk load: %w", err)
		return 0, f.broken
	}
	f.filter.invalidate() // the seen set grew behind the batch
	for _, q := range touched {
		q.rd = nil // the store changed under it
		f.touch(q, l.now)
	}
	f.opts.Logger.Info().Int("tables", len(paths)).Dur("elapsed", time.Since(start)).Msg("bulk load: ingested")
	return added, nil
}

// writeURLs writes the records of the URLs new to the store and to the
// load, each core its own range of buckets, and marks them in fresh.
func (l *durableLoad) writeURLs(fresh []atomic.Uint64) ([]*tableSeq, int, error) {
	f := l.f
	// Known URLs are dropped by a sorted walk of the seen set with the
	// Bloom filters of every level; a new store has none.
	opts := &pebble.IterOptions{LowerBound: []byte{pfxURL}, UpperBound: []byte{pfxURL + 1}, UseL6Filters: true}
	probe, err := f.db.NewIter(opts)
	if err != nil {
		return nil, 0, fmt.Errorf("frontier store: %w", err)
	}
	known := probe.First()
	if err := probe.Close(); err != nil {
		return nil, 0, fmt.Errorf("frontier store: %w", err)
	}
	parts := runtime.GOMAXPROCS(0)
	tables := make([]*tableSeq, parts)
	added := make([]int, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		tables[p] = f.newTableSeq(fmt.Sprintf("u%d", p), true)
		wg.Go(func() {
			var it *pebble.Iterator
			if known {
				if it, errs[p] = f.db.NewIter(opts); errs[p] != nil {
					return
				}
				defer it.Close()
			}
			uk := make([]byte, 17)
			uk[0] = pfxURL
			var rec []byte
			r := bucketReader{s: l.byKey}
			for b := spillBuckets * p / parts; b < spillBuckets*(p+1)/parts; b++ {
				ents, release, err := r.read(b)
				if errs[p] = err; err != nil {
					return
				}
				for i, e := range ents {
					if i > 0 && e.hi == ents[i-1].hi && e.lo == ents[i-1].lo {
						continue // a repeat within the load: its first is kept
					}
					binary.BigEndian.PutUint64(uk[1:], e.hi)
					binary.BigEndian.PutUint64(uk[9:], e.lo)
					if it != nil && it.SeekPrefixGE(uk) && bytes.Equal(it.Key(), uk) {
						continue
					}
					fresh[e.idx/64].Or(1 << (e.idx % 64))
					// The value spilled: the queue, then the URL.
					rec = l.records.appendRecord(rec[:0], binary.BigEndian.Uint64(e.val), e.val[8:])
					if errs[p] = tables[p].set(uk, rec); errs[p] != nil {
						break
					}
					added[p]++
				}
				release()
				if errs[p] == nil && it != nil {
					errs[p] = it.Error()
				}
				if errs[p] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range added {
		total += n
	}
	if err := errors.Join(errs...); err != nil {
		for _, t := range tables {
			t.remove()
		}
		return nil, 0, err
	}
	return tables, total, nil
}

// A queueRun is what a load added to one queue.
type queueRun struct {
	queue uint64
	n     int64
	host  string // of its first URL: a new queue's name comes from it
}

// writeEntries writes the queue entries of the fresh URLs, each core its
// own range of buckets, in the order AddSeeds would have queued them (by
// queue, then as added). It returns each queue's run in queue order, and
// the hosts of all the load's URLs, sorted: like AddSeeds, a seed already
// known still puts its host in the scope.
func (l *durableLoad) writeEntries(fresh func(idx uint64) bool, seq uint64) ([]*tableSeq, []queueRun, []string, error) {
	f := l.f
	parts := runtime.GOMAXPROCS(0)
	tables := make([]*tableSeq, parts)
	runs := make([][]queueRun, parts)
	hosts := make([][]string, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		tables[p] = f.newTableSeq(fmt.Sprintf("q%d", p), false)
		wg.Go(func() {
			r := bucketReader{s: l.byQueue}
			var qk, qv []byte
			var host string
			for b := spillBuckets * p / parts; b < spillBuckets*(p+1)/parts; b++ {
				ents, release, err := r.read(b)
				if errs[p] = err; err != nil {
					return
				}
				newRun := true
				for i, e := range ents {
					if i > 0 && e.hi != ents[i-1].hi {
						newRun = true
					}
					// The value spilled: the URL's key, then the URL.
					u := e.val[16:]
					// Entries come by queue: most repeat the last host.
					if h := urlx.Host(string(u)); h != host {
						host = h
						if h != "" {
							hosts[p] = append(hosts[p], h)
						}
					}
					if !fresh(e.idx) {
						continue
					}
					if newRun {
						runs[p] = append(runs[p], queueRun{queue: e.hi, host: host})
						newRun = false
					}
					runs[p][len(runs[p])-1].n++
					qk = appendQueueKey(qk[:0], e.hi, newURLDue, 1, seq+1+e.idx)
					qv = l.records.appendRecord(append(qv[:0], e.val[:16]...), e.hi, u)
					if errs[p] = tables[p].set(qk, qv); errs[p] != nil {
						break
					}
				}
				release()
				if errs[p] != nil {
					return
				}
			}
			slices.Sort(hosts[p])
			hosts[p] = slices.Compact(hosts[p])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, t := range tables {
			t.remove()
		}
		return nil, nil, nil, err
	}
	return tables, slices.Concat(runs...), mergeSorted(hosts), nil
}

// mergeSorted merges sorted lists of strings, without repeats.
func mergeSorted(lists [][]string) []string {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]string, 0, n)
	for {
		best := -1
		for i, l := range lists {
			if len(l) > 0 && (best < 0 || l[0] < lists[best][0]) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		if s := lists[best][0]; len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
		lists[best] = lists[best][1:]
	}
}

// Abort implements BulkLoad.
func (l *durableLoad) Abort() {
	if l.finished {
		return
	}
	l.finished = true
	_ = l.waitSpilled()
	for _, s := range []*spill{l.byKey, l.byQueue} {
		if s != nil {
			s.close()
		}
	}
	_ = os.RemoveAll(l.dir)
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
