// queuetable.go: the queues in memory, found by id.

package frontier

import (
	"fmt"
	"math/bits"
	"unsafe"
)

// slab hands out values of T from chunks of slabChunk, for values that are
// never freed one by one: fewer allocations, and fewer objects for the
// garbage collector to track. A value's position (its allocation order)
// finds it again: a table of positions is half the size of one of
// pointers.
type slab[T any] struct {
	chunks [][]T
	n      int
}

const slabChunk = 1024

// alloc is a new zero value and its position.
func (s *slab[T]) alloc() (*T, uint32) {
	if s.n == len(s.chunks)*slabChunk {
		if s.n == 1<<32-slabChunk {
			// 4 billion hosts would need some 700 GiB here first.
			panic(fmt.Sprintf("frontier: more than %d queues in memory", s.n))
		}
		s.chunks = append(s.chunks, make([]T, slabChunk))
	}
	pos := s.n
	s.n++
	return &s.chunks[pos/slabChunk][pos%slabChunk], uint32(pos)
}

// at is the value at pos.
func (s *slab[T]) at(pos uint32) *T { return &s.chunks[pos/slabChunk][pos%slabChunk] }

// queueTable finds a queue by its id: open addressing with linear probing
// over the queues' slab positions, at most three quarters full. A million
// hosts take 8 MB in it where a map[uint64]*queueState took 38 MB (16-byte
// slots, control bytes, growth headroom), the largest part of a broad
// crawl's memory after the queues themselves. Queues are never removed.
type queueTable struct {
	slots []uint32 // 1 + a queue's position in at; 0: empty
	shift uint     // 64 - log2(len(slots))
	n     int
	at    func(pos uint32) *queueState
}

// home is the first slot to look for id in. An id is the first 8 bytes of
// a 128-bit FNV hash, whose low bits barely change between names such as
// h1.test and h2.test (taken as they are, 100k such hosts probed 3,800
// slots each): multiplying by 2^64/φ and keeping the top bits spreads
// every bit of the id over the slot number (Fibonacci hashing).
func (t *queueTable) home(id uint64) uint64 { return (id * 0x9e3779b97f4a7c15) >> t.shift }

// get is the queue with id, or nil.
func (t *queueTable) get(id uint64) *queueState {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.home(id); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return nil
		}
		if q := t.at(s - 1); q.id == id {
			return q
		}
	}
}

// add adds the queue at pos, whose id the table does not hold.
func (t *queueTable) add(pos uint32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(2*len(t.slots), 64))
	}
	t.place(pos)
	t.n++
}

// reserve makes room for n more queues at once.
func (t *queueTable) reserve(n int) {
	size := max(len(t.slots), 64)
	for (t.n+n)*4 > size*3 {
		size *= 2
	}
	if size > len(t.slots) {
		t.resize(size)
	}
}

func (t *queueTable) resize(size int) {
	old := t.slots
	t.slots = make([]uint32, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	for _, s := range old {
		if s != 0 {
			t.place(s - 1)
		}
	}
}

// place puts pos in the first free slot from its id's home.
func (t *queueTable) place(pos uint32) {
	mask := uint64(len(t.slots) - 1)
	i := t.home(t.at(pos).id)
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = pos + 1
}

// len is the number of queues.
func (t *queueTable) len() int { return t.n }

// each calls fn with every queue, in no particular order.
func (t *queueTable) each(fn func(*queueState)) {
	for _, s := range t.slots {
		if s != 0 {
			fn(t.at(s - 1))
		}
	}
}

// nameArena keeps the queues' names packed in blocks. A name of its own
// was an object for the garbage collector rounded up to a size class (a
// million 18-byte host names took 24 MB), and a name cut from a URL kept
// the whole URL alive. Queues are never freed, and neither are the blocks.
type nameArena struct{ block []byte }

const nameBlock = 64 << 10

// intern is a copy of name in the arena.
func intern[T string | []byte](a *nameArena, name T) string {
	if len(name) == 0 || len(name) > nameBlock/16 {
		return string(name)
	}
	if len(a.block)+len(name) > cap(a.block) {
		a.block = make([]byte, 0, nameBlock)
	}
	a.block = append(a.block, name...)
	s := a.block[len(a.block)-len(name):]
	// The bytes are never written again: the string may share them.
	return unsafe.String(unsafe.SliceData(s), len(s))
}
