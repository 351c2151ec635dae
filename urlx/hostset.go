// hostset.go: the seed hosts of a host-based scope, a set that a broad
// crawl fills with millions of names.

package urlx

import (
	"hash/maphash"
	"slices"
)

// hostSet is an exact set of host names in about 24 bytes a name besides
// the name itself, where a map[string]struct{} takes 55 (Go 1.26): the
// names in one slice, and an open-addressing table (linear probing) of
// their positions. A million seed hosts of a broad crawl cost 24 MB instead
// of 55, and the names can be shared with the frontier's queue names.
// Names are only added, never removed. No library found for this does
// less than a map.
type hostSet struct {
	seed  maphash.Seed
	names []string
	// slots holds a position in names plus one (0: empty); its length is a
	// power of two, and at most half of it is used, so that probe chains
	// stay short.
	slots []uint32
}

func (s *hostSet) len() int { return len(s.names) }

// has reports whether h is in the set.
func (s *hostSet) has(h string) bool {
	if len(s.names) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := maphash.String(s.seed, h) & mask; ; i = (i + 1) & mask {
		p := s.slots[i]
		if p == 0 {
			return false
		}
		if s.names[p-1] == h {
			return true
		}
	}
}

// add puts h in the set.
func (s *hostSet) add(h string) {
	if s.has(h) {
		return
	}
	s.reserve(1)
	s.names = append(s.names, h)
	s.place(uint32(len(s.names)))
}

// reserve makes room for n more names without growing the table again.
func (s *hostSet) reserve(n int) {
	want := 2 * (len(s.names) + n)
	if want <= len(s.slots) {
		return
	}
	if s.slots == nil {
		s.seed = maphash.MakeSeed()
	}
	size := 16
	for size < want {
		size *= 2
	}
	s.slots = make([]uint32, size)
	for p := range s.names {
		s.place(uint32(p + 1))
	}
	s.names = slices.Grow(s.names, n)
}

// place puts position p (plus one) of names in the table.
func (s *hostSet) place(p uint32) {
	mask := uint64(len(s.slots) - 1)
	i := maphash.String(s.seed, s.names[p-1]) & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = p
}
