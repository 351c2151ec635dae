// seen.go: the in-memory cache of URL keys known to be in the seen set,
// in front of the store's seek.

package frontier

import "github.com/spyder-crawl/spyder/urlx"

// seenCacheGeneration is how many keys one generation of the cache holds:
// two generations of 128Ki keys are about 6 MiB.
const seenCacheGeneration = 1 << 17

// seenCache remembers URL keys the seen set holds, so that the links a
// crawl finds again and again (a site's navigation, its pages linked from
// each of its pages: 30 links a page, nearly all known) are known without
// a store seek, which was a fifth of a whole crawl's CPU.
//
// It is exact, not probabilistic: a key is put in only once the store has
// it (found by a seek, or admitted into the open batch), and URL records
// are never deleted, so a hit is the store's own answer. A batch that
// fails to commit breaks the frontier until it is reopened, and the cache
// goes with it. A miss asks the store.
//
// It is bounded: two generations of at most seenCacheGeneration keys;
// when the newer is full, the older is dropped. A key found in the older
// is copied into the newer, so the keys in use stay.
type seenCache struct {
	cur, old   map[urlx.Key]struct{}
	generation int // keys in cur at most
}

func newSeenCache(generation int) *seenCache {
	return &seenCache{cur: make(map[urlx.Key]struct{}, 1024), generation: generation}
}

// has reports whether k is known to be in the seen set.
func (c *seenCache) has(k urlx.Key) bool {
	if _, ok := c.cur[k]; ok {
		return true
	}
	if _, ok := c.old[k]; ok {
		c.add(k)
		return true
	}
	return false
}

// add records that the seen set holds k.
func (c *seenCache) add(k urlx.Key) {
	if len(c.cur) >= c.generation {
		c.old, c.cur = c.cur, make(map[urlx.Key]struct{}, c.generation)
	}
	c.cur[k] = struct{}{}
}
