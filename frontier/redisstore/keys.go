// keys.go: partitions, key names, queue entries and the conversions
// between this machine's time and Redis's.

package redisstore

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
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
	flagHTTPHost  = 4  // the URL is stored without "http://" + its host
	flagHTTPSHost = 8  // ... without "https://" + its host
	flagRecorded  = 16 // the URL has a record in the seen set
)

// fpLen is the bytes of a URL's fingerprint the Redis store keeps (112
// bits: two pick its seen-set bucket, twelve name it there); entryHeader
// is a queue entry's bytes before its URL.
const (
	fpLen       = 14
	entryHeader = fpLen + 3 + 2 + 4
)

// entry encodes the queue entry of u (of host) as spyder.lua reads it:
// fingerprint, flags, attempts, level, depth, added (s), the URL without
// the scheme and host its queue gives back.
func entry(u, host string, flags byte, depth int, added time.Time) string {
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
	b = binary.BigEndian.AppendUint32(b, uint32(max(added.Unix(), 0)))
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

// A URL record (spyder.lua's record): state, status, attempts, level,
// depth, URL, ETag, Last-Modified and the history, joined by \0; the
// history is "kind,state,at_ms,value;" per event, oldest first. It is
// read here for inspect and migrate, and written here only by migrate.

// parseRecord decodes a URL record into a snapshot (without its queue
// state: Due and Returned are the queue's).
func parseRecord(v string) (frontier.URLSnapshot, bool) {
	f := strings.SplitN(v, "\x00", 9)
	if len(f) != 9 {
		return frontier.URLSnapshot{}, false
	}
	n := make([]int, 5)
	for i := range n {
		var err error
		if n[i], err = strconv.Atoi(f[i]); err != nil {
			return frontier.URLSnapshot{}, false
		}
	}
	u := frontier.URLSnapshot{State: byte(n[0]), Status: int16(n[1]), Attempts: n[2], Level: n[3], Depth: n[4],
		URL: f[5], ETag: f[6], LastModified: f[7]}
	for _, ev := range strings.Split(f[8], ";") {
		e := strings.Split(ev, ",")
		if len(e) != 4 {
			continue
		}
		kind, _ := strconv.Atoi(e[0])
		st, _ := strconv.Atoi(e[1])
		u.History = append(u.History, frontier.Event{At: time.UnixMilli(number(e[2])), Value: number(e[3]), Kind: byte(kind), State: byte(st)})
	}
	u.Seed = len(u.History) > 0 && u.History[0].Kind == frontier.EventAddedSeed
	return u, true
}

// number reads a number of a record: an integer, or what Lua's
// tostring (%.14g) made of one.
func number(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, _ := strconv.ParseFloat(s, 64)
	return int64(f)
}

// encodeRecord is u's URL record.
func encodeRecord(u *frontier.URLSnapshot) string {
	var h strings.Builder
	for _, e := range u.History[max(len(u.History)-maxHistory, 0):] {
		fmt.Fprintf(&h, "%d,%d,%d,%d;", e.Kind, e.State, e.At.UnixMilli(), e.Value)
	}
	return strings.Join([]string{strconv.Itoa(int(u.State)), strconv.Itoa(int(u.Status)), strconv.Itoa(u.Attempts),
		strconv.Itoa(u.Level), strconv.Itoa(u.Depth), u.URL, u.ETag, u.LastModified, h.String()}, "\x00")
}

// maxHistory is spyder.lua's MAX_HISTORY: the events a record keeps.
const maxHistory = 16
