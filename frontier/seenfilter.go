// seenfilter.go: an in-memory Bloom filter of the whole seen set, in front
// of the store's seek: a link it has never seen is admitted without one.

package frontier

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/urlx"
)

// seenFilter answers "never seen" for most URLs that are new, so that
// admitting them costs no store seek: the seek of a key the store does
// not hold searches the memtable's skiplist (which has no Bloom filter)
// and took 10 µs a new link, a sixth of a master's CPU on a crawl. The
// seen cache (seen.go) answers for the links found again and again; this
// answers for the new ones.
//
// It is exact in the way that matters: a "never seen" is true, a "maybe"
// is confirmed by the seek as before. For that it must cover every key
// the store holds, which takes two parts:
//
//   - live layers, from the open on: every URL admitted into the batch
//     (add), so also those not committed yet;
//   - a base layer of what the store held when it was built: read in the
//     background from a snapshot, from the first admission that needs it
//     on (a restarted master reads the seen set while it crawls; an
//     operator's command that admits nothing never reads it). Until it
//     is in, every miss of the seen cache is a seek.
//
// A bulk load writes tables behind the batch (bulk.go): it stales the
// base, and the next admission builds another. URL records are never
// deleted, so a key once in the filter stays true.
type seenFilter struct {
	live  []*bloomLayer // newest last; adds go to the last
	base  *bloomLayer   // nil until built (or after a bulk load)
	build *baseBuild    // the build under way, or nil
	retry time.Time     // after a failed build, when to try again
	// seeks counts the store seeks of admissions (the filter's misses and
	// its false positives): for the tests and the benchmarks.
	seeks int64
}

func newSeenFilter() *seenFilter { return &seenFilter{} }

// liveLayerMin is the capacity of the first live layer; each next one
// holds as many keys as all live layers before it (so their number grows
// with the log of the keys, and so does the false-positive rate: each
// layer's is about 2%).
const liveLayerMin = 1 << 16

// add records a key admitted into the store (or its open batch).
func (s *seenFilter) add(k *urlx.Key) {
	last := len(s.live) - 1
	if last < 0 || s.live[last].n >= s.live[last].capacity {
		total := 0
		for _, l := range s.live {
			total += l.n
		}
		s.live = append(s.live, newBloomLayer(max(liveLayerMin, total)))
		last++
	}
	s.live[last].add(k)
}

// neverSeen reports whether the store certainly does not hold k. False
// means "ask the store".
func (s *seenFilter) neverSeen(k *urlx.Key) bool {
	if s.base == nil {
		return false
	}
	h := hashKey(k)
	if s.base.hasHash(h) {
		return false
	}
	for _, l := range s.live {
		if l.hasHash(h) {
			return false
		}
	}
	return true
}

// ready makes the filter usable when it can be: it takes a finished
// build's base, or starts a build when the base is missing or stale. It
// costs a channel poll when a build is under way and nothing otherwise.
func (s *seenFilter) ready(f *Durable, now time.Time) {
	if b := s.build; b != nil {
		select {
		case <-b.done:
		default:
			return
		}
		s.build = nil
		if b.err != nil {
			// A read error of the snapshot: the seeks answer, as before
			// the filter, and an admission a minute later tries again.
			f.opts.Logger.Warn().Err(b.err).Dur("retry_in", seenFilterRetry).Msg("building the seen-set filter failed; admissions seek the store meanwhile")
			s.retry = now.Add(seenFilterRetry)
			return
		}
		if !b.staled {
			s.base = b.layer
			f.opts.Logger.Info().Int("urls", b.layer.n).Float64("mib", float64(len(b.layer.blocks)*64)/(1<<20)).
				Dur("elapsed", b.elapsed).Msg("seen-set filter built: new links are admitted without a store seek")
		}
	}
	if s.base == nil && s.build == nil && !now.Before(s.retry) {
		s.build = startBaseBuild(f.db, f.stats.Seen)
	}
}

// seenFilterRetry is the wait after a failed build.
const seenFilterRetry = time.Minute

// invalidate drops the base after the store gained keys behind the batch.
func (s *seenFilter) invalidate() {
	s.base = nil
	if s.build != nil {
		s.build.staled = true // its snapshot predates the new keys
	}
}

// stop ends a build under way and waits for it (before the store closes).
func (s *seenFilter) stop() {
	if s.build != nil {
		s.build.cancel()
		<-s.build.done
		s.build = nil
	}
}

// baseBuild reads the URL keys of a snapshot into a layer.
type baseBuild struct {
	cancel  context.CancelFunc
	done    chan struct{}
	staled  bool // set by the loop; the layer is thrown away
	layer   *bloomLayer
	elapsed time.Duration
	err     error
}

// startBaseBuild starts reading the seen set of the store as it is now
// (its committed state; what the batch holds is in the live layers).
// seen, the store's count of URLs, sizes the layer; a wrong count makes
// more false positives, never a wrong answer.
func startBaseBuild(db *pebble.DB, seen int64) *baseBuild {
	ctx, cancel := context.WithCancel(context.Background())
	b := &baseBuild{cancel: cancel, done: make(chan struct{})}
	snap := db.NewSnapshot()
	go func() {
		defer close(b.done)
		defer snap.Close()
		start := time.Now()
		b.layer, b.err = readSeenKeys(ctx, snap, int(max(seen, 0)))
		b.elapsed = time.Since(start)
	}()
	return b
}

// readSeenKeys adds every URL key of the snapshot to a new layer.
func readSeenKeys(ctx context.Context, snap *pebble.Snapshot, seen int) (*bloomLayer, error) {
	layer := newBloomLayer(seen + seen/16 + 1024)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxURL}, UpperBound: []byte{pfxURL + 1}})
	if err != nil {
		return nil, fmt.Errorf("reading the seen set: %w", err)
	}
	var k urlx.Key
	for valid := it.First(); valid; valid = it.Next() {
		if layer.n%(1<<16) == 0 && ctx.Err() != nil {
			it.Close()
			return nil, ctx.Err()
		}
		copy(k[:], it.Key()[1:])
		layer.add(&k)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("reading the seen set: %w", err)
	}
	return layer, nil
}

// bloomLayer is a blocked Bloom filter: each key sets bloomProbes bits
// in one 512-bit block (one cache line), so a lookup reads one line
// where a classic filter reads bloomProbes. URL keys are already hashes
// (FNV-128), so no library hashes them again; bits-and-blooms/bloom would
// (murmur3) and probe k lines.
type bloomLayer struct {
	blocks   [][8]uint64
	n        int // keys added
	capacity int // keys it was sized for
}

// bloomBitsPerKey and bloomProbes: about 2% false positives at capacity,
// 1 byte a key (10M URLs: 10 MB).
const (
	bloomBitsPerKey = 8
	bloomProbes     = 5
)

func newBloomLayer(capacity int) *bloomLayer {
	nblocks := max(1, (capacity*bloomBitsPerKey+511)/512)
	return &bloomLayer{blocks: make([][8]uint64, nblocks), capacity: capacity}
}

// keyHash is a key's two mixed halves: the block from the first, the bit
// positions from the second.
type keyHash struct{ block, bits uint64 }

// hashKey mixes the key's halves: FNV's low bits barely differ between
// similar URLs (see queueTable's home for what that did to a table).
func hashKey(k *urlx.Key) keyHash {
	hi, lo := binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:])
	return keyHash{block: mix64(hi ^ bits.RotateLeft64(lo, 32)), bits: mix64(lo + 0x9e3779b97f4a7c15)}
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (l *bloomLayer) block(h keyHash) *[8]uint64 {
	i, _ := bits.Mul64(h.block, uint64(len(l.blocks)))
	return &l.blocks[i]
}

func (l *bloomLayer) add(k *urlx.Key) {
	h := hashKey(k)
	b := l.block(h)
	for i := range bloomProbes {
		bit := (h.bits >> (9 * i)) & 511
		b[bit>>6] |= 1 << (bit & 63)
	}
	l.n++
}

func (l *bloomLayer) hasHash(h keyHash) bool {
	b := l.block(h)
	for i := range bloomProbes {
		bit := (h.bits >> (9 * i)) & 511
		if b[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}
