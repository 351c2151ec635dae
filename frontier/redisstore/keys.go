// keys.go: partitions, key names, queue entries and the conversions
// between this machine's time and Redis's.

package redisstore

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"
	"strings"
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

// Queue entry flags (spyder.lua's parse_entry).
const (
	flagScheduled = 1
	flagSeed      = 2
	flagHTTPHost  = 4 // the URL is stored without "http://" + its host
	flagHTTPSHost = 8 // ... without "https://" + its host
)

// fpLen is the bytes of a URL's fingerprint the Redis store keeps (112
// bits: two pick its seen-set bucket, twelve name it there); entryHeader
// is a queue entry's bytes before its URL.
const (
	fpLen       = 14
	entryHeader = fpLen + 3 + 2 + 4
)

// entry encodes the queue entry of u (of host) as spyder.lua reads it:
// fingerprint, flags, attempts, level, depth, added (s, set by Redis),
// the URL without the scheme and host its queue gives back.
func entry(u, host string, flags byte, depth int) string {
	k := urlx.KeyOf(u)
	rest := u
	switch {
	case strings.HasPrefix(u, "http://"+host):
		flags, rest = flags|flagHTTPHost, u[len("http://")+len(host):]
	case strings.HasPrefix(u, "https://"+host):
		flags, rest = flags|flagHTTPSHost, u[len("https://")+len(host):]
	}
	b := make([]byte, 0, entryHeader+len(rest))
	b = append(b, k[:fpLen]...)
	b = append(b, flags, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(min(depth, 1<<16-1)))
	b = append(b, 0, 0, 0, 0)
	return string(append(b, rest...))
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
