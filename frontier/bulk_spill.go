// bulk_spill.go: the two halves of a bulk load's external sort: spill
// files, one per key range, that take entries in any order; and sequences
// of tables that take sorted keys and roll over at a target size.

package frontier

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// spillBuckets is how many key ranges a spill has. Keys are hashes, so the
// ranges are even: 100M URLs make buckets of about 50 MB, sorted one at a
// time per core.
const spillBuckets = 256

// A spill holds entries by key range (bucket: a key's first byte) in
// files, unsorted. An entry is a 24-byte head (its sort key: 16 bytes,
// then its index in the load: 8), a length and a value.
type spill struct {
	files [spillBuckets]*os.File
	bufs  [spillBuckets]*bufio.Writer
}

func newSpill(dir, name string) (*spill, error) {
	s := new(spill)
	for b := range s.files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%03d", name, b)))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("bulk load: spill file: %w", err)
		}
		s.files[b], s.bufs[b] = f, bufio.NewWriterSize(f, 32<<10)
	}
	return s, nil
}

// add appends an entry to the bucket of sortKey's first byte; its value
// is the concatenation of v1 and v2.
func (s *spill) add(sortKey *[16]byte, idx uint64, v1 []byte, v2 string) error {
	var head [24 + binary.MaxVarintLen64]byte
	copy(head[:16], sortKey[:])
	binary.BigEndian.PutUint64(head[16:], idx)
	n := 24 + binary.PutUvarint(head[24:], uint64(len(v1)+len(v2)))
	w := s.bufs[sortKey[0]]
	w.Write(head[:n])
	w.Write(v1)
	_, err := w.WriteString(v2) // a bufio.Writer keeps its first error
	return err
}

// flush writes out what the buffers hold.
func (s *spill) flush() error {
	for _, w := range s.bufs {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("bulk load: spill file: %w", err)
		}
	}
	return nil
}

// A spillEntry is an entry of a bucket read back: its value points into
// the bucket's mapping.
type spillEntry struct {
	hi, lo uint64 // the sort key
	idx    uint64
	val    []byte
}

// A bucketReader reads the buckets of a spill back, one at a time, with
// buffers it keeps from one to the next.
type bucketReader struct {
	s              *spill
	parsed, sorted []spillEntry
}

// read maps bucket b and returns its entries sorted by key, then index.
// release unmaps the bucket: the entries are not to be used after it.
func (r *bucketReader) read(b int) (_ []spillEntry, release func(), err error) {
	file := r.s.files[b]
	st, err := file.Stat()
	if err != nil || st.Size() == 0 {
		return nil, func() {}, err
	}
	data, err := syscall.Mmap(int(file.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("bulk load: mapping a spill file: %w", err)
	}
	release = func() { _ = syscall.Munmap(data) }
	ents := r.parsed[:0]
	for rest := data; len(rest) > 0; {
		n, w := uint64(0), 0
		if len(rest) > 24 {
			n, w = binary.Uvarint(rest[24:])
		}
		if w <= 0 || uint64(len(rest)-24-w) < n {
			release()
			return nil, nil, errors.New("bulk load: a spill file is corrupt")
		}
		ents = append(ents, spillEntry{
			hi:  binary.BigEndian.Uint64(rest),
			lo:  binary.BigEndian.Uint64(rest[8:]),
			idx: binary.BigEndian.Uint64(rest[16:]),
			val: rest[24+w : 24+w+int(n)],
		})
		rest = rest[24+w+int(n):]
	}
	r.parsed = ents
	// The bucket shares its keys' first byte: one counting pass on the
	// second splits it into groups of a few hundred, sorted each in cache.
	var end [256]int
	for _, e := range ents {
		end[byte(e.hi>>48)]++
	}
	for g := 1; g < 256; g++ {
		end[g] += end[g-1]
	}
	if cap(r.sorted) < len(ents) {
		r.sorted = make([]spillEntry, len(ents))
	}
	sorted := r.sorted[:len(ents)]
	for i := len(ents) - 1; i >= 0; i-- { // backwards, so each group keeps the file's order
		g := byte(ents[i].hi >> 48)
		end[g]--
		sorted[end[g]] = ents[i]
	}
	for g := range 256 {
		hi := len(sorted)
		if g < 255 {
			hi = end[g+1]
		}
		slices.SortFunc(sorted[end[g]:hi], compareEntries)
	}
	return sorted, release, nil
}

func compareEntries(a, b spillEntry) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	return cmp.Compare(a.idx, b.idx)
}

func (s *spill) close() {
	for _, f := range s.files {
		if f != nil {
			f.Close()
		}
	}
}

// A tableSeq writes keys in increasing order into tables of about target
// bytes each, ready to be ingested: tables of different sequences over
// disjoint key ranges overlap nothing, so an ingest into a store without
// those keys puts all of them in the bottom level, where no compaction
// rewrites them.
type tableSeq struct {
	f      *Durable
	name   string
	wo     sstable.WriterOptions
	target uint64
	w      *sstable.Writer
	paths  []string
}

// newTableSeq starts a sequence of tables; only those of the seen set
// (filter) have Bloom filters: the rest is read in order, never probed.
func (f *Durable) newTableSeq(name string, filter bool) *tableSeq {
	last := len(f.po.Levels) - 1
	wo := f.po.MakeWriterOptions(last, f.db.TableFormat())
	if !filter {
		wo.FilterPolicy = nil
	}
	// The size Pebble itself gives bottom-level tables in a full tree,
	// which a store worth a bulk load soon is.
	return &tableSeq{f: f, name: name, wo: wo, target: uint64(f.po.TargetFileSize(last, 1))}
}

// set adds a key, greater than the last one, and its value.
func (t *tableSeq) set(k, v []byte) error {
	if t.w == nil {
		f := t.f
		path := f.po.FS.PathJoin(f.dir, fmt.Sprintf("bulk-%d-%s-%d.sst", f.bulkGen, t.name, len(t.paths)))
		file, err := f.po.FS.Create(path, "")
		if err != nil {
			return fmt.Errorf("bulk load: table: %w", err)
		}
		t.paths = append(t.paths, path)
		t.w = sstable.NewWriter(objstorageprovider.NewFileWritable(file), t.wo)
	}
	if err := t.w.Set(k, v); err != nil {
		return fmt.Errorf("bulk load: table: %w", err)
	}
	if t.w.Raw().EstimatedSize() >= t.target {
		return t.close()
	}
	return nil
}

// close finishes the table being written; it is synced, as Ingest needs.
func (t *tableSeq) close() error {
	if t.w == nil {
		return nil
	}
	err := t.w.Close()
	t.w = nil
	if err != nil {
		return fmt.Errorf("bulk load: table: %w", err)
	}
	return nil
}

// remove deletes the sequence's tables (after a failure).
func (t *tableSeq) remove() {
	if t.w != nil {
		_ = t.w.Close()
		t.w = nil
	}
	for _, p := range t.paths {
		_ = t.f.po.FS.Remove(p)
	}
}
