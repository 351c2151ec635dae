// keys.go: partitions, key names, queue entries and the conversions
// between this machine's time and Redis's.

package redisstore

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/spyder-crawl/spyder/urlx"
)

// PartitionOf is the partition of host in a crawl of partitions:
// FNV-1a, 64 bits, modulo the partitions (fixed when the crawl is made,
// so that a host never moves; Redis moves slots, masters move ownership).
func PartitionOf(host string, partitions int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(host))
	return int(h.Sum64() % uint64(partitions))
}

// Prefix is the key prefix of partition p of crawl: "<crawl>:{pN}:", the
// hash tag putting every key of the partition in one slot.
func Prefix(crawl string, p int) string {
	return crawl + ":{p" + strconv.Itoa(p) + "}:"
}

func (s *Store) partitionOf(host string) int { return PartitionOf(host, s.parts) }

func (s *Store) prefix(p int) string { return Prefix(s.crawl, p) }

// ctlPrefix is the prefix of the crawl's own keys (directory,
// configuration, seeds), in a slot of their own.
func (s *Store) ctlPrefix() string { return s.crawl + ":{ctl}:" }

func (s *Store) ctlKey(name string) string { return s.ctlPrefix() + name }

// partitionOfLease is where a lease lives: the partition is in its id
// (sequence x partitions + partition), so any master can apply a result.
func (s *Store) partitionOfLease(id int64) (int, bool) {
	if id <= 0 {
		return 0, false
	}
	return int(id % int64(s.parts)), true
}

// Queue entry flags (spyder.lua).
const (
	flagScheduled = 1
	flagSeed      = 2
)

// entry encodes a URL's queue entry as spyder.lua reads it: fingerprint,
// flags, attempts, level, depth, added (ms, set by Redis), URL.
func entry(u string, flags byte, depth int) string {
	k := urlx.KeyOf(u)
	b := make([]byte, 0, 27+len(u))
	b = append(b, k[:]...)
	b = append(b, flags, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(min(depth, 1<<16-1)))
	b = append(b, 0, 0, 0, 0, 0, 0)
	return string(append(b, u...))
}

// offset is t as milliseconds from now: what Redis adds to its own clock.
func offset(t, now time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.Sub(now).Milliseconds(), 0)
}

// local turns a Redis time (ms) into this machine's time.
func (s *Store) local(redisMS int64) time.Time {
	return time.UnixMilli(redisMS - s.skew)
}

// sawClock records Redis's clock (ms) as of the local time now.
func (s *Store) sawClock(redisMS int64, now time.Time) {
	s.skew = redisMS - now.UnixMilli()
}
