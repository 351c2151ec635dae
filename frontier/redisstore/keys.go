// keys.go: partitions, key names, queue entries and the conversions
// between this machine's time and Redis's.

package redisstore

import (
	"encoding/binary"
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
	flagDiscovery = 32 // the URL is followed by \0 via \0 hop path (frontier.Discovery)
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
// the scheme and host its queue gives back, and how it was found (when
// kept: frontier.Options.KeepDiscovery).
func entry(u, host string, flags byte, d frontier.Discovery, added time.Time) string {
	depth := d.Depth
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
	b = append(b, rest...)
	if d.Via != "" || d.HopPath != "" {
		b[fpLen] |= flagDiscovery
		b = append(append(append(append(b, 0), d.Via...), 0), d.HopPath...)
	}
	return string(b)
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
// depth, URL, ETag, Last-Modified, WARC capture (not in records written
// before it was kept) and the history, joined by \0; the
// history is "kind,state,at_ms,value;" per event, oldest first. It is
// read here for inspect and migrate, and written here only by migrate.

// parseRecord decodes a URL record into a snapshot (without its queue
// state: Due and Returned are the queue's).
func parseRecord(v string) (frontier.URLSnapshot, bool) {
	f := strings.SplitN(v, "\x00", 10)
	switch len(f) {
	case 9: // written before the WARC capture was kept
		f = append(f[:8], "", f[8])
	case 10:
	default:
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
		URL: f[5], ETag: f[6], LastModified: f[7], WARCCapture: f[8]}
	for _, ev := range strings.Split(f[9], ";") {
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
	b := recordHead(u.State, u.Status, u.Attempts, u.Level, u.Depth, u.URL)
	b = append(append(append(append(b, u.ETag...), 0), u.LastModified...), 0)
	b = append(append(b, u.WARCCapture...), 0)
	for _, e := range u.History[max(len(u.History)-maxHistory, 0):] {
		b = appendEvent(b, e.Kind, e.State, e.At.UnixMilli(), e.Value)
	}
	return string(b)
}

// maxHistory is spyder.lua's MAX_HISTORY: the events a record keeps.
const maxHistory = 16

// queued is what a queue entry says of its URL.
type queued struct {
	url             string
	flags           byte
	attempts, level int
	depth           int
	added           time.Time
	via, hopPath    string
}

// decodeEntry reads queue entry m of host (spyder.lua's parse_entry).
func decodeEntry(m, host string) (queued, bool) {
	if len(m) < entryHeader {
		return queued{}, false
	}
	e := queued{flags: m[fpLen], attempts: int(m[fpLen+1]), level: int(m[fpLen+2]),
		depth: int(binary.BigEndian.Uint16([]byte(m[fpLen+3 : fpLen+5]))),
		added: time.Unix(int64(binary.BigEndian.Uint32([]byte(m[fpLen+5:entryHeader]))), 0)}
	rest := m[entryHeader:]
	if e.flags&flagDiscovery != 0 {
		var tail string
		rest, tail, _ = strings.Cut(rest, "\x00")
		e.via, e.hopPath, _ = strings.Cut(tail, "\x00")
	}
	switch {
	case e.flags&flagHTTPHost != 0:
		e.url = "http://" + host + rest
	case e.flags&flagHTTPSHost != 0:
		e.url = "https://" + host + rest
	default:
		e.url = rest
	}
	return e, true
}

// requeued is entry m of a URL queued again after a result: scheduled
// for a revisit or not, its attempts and level, and marked as having a
// record.
func requeued(m string, scheduled bool, attempts, level int) string {
	b := []byte(m)
	b[fpLen] = b[fpLen]&^flagScheduled | flagRecorded
	if scheduled {
		b[fpLen] |= flagScheduled
	}
	b[fpLen+1], b[fpLen+2] = byte(min(attempts, 255)), byte(min(level, 255))
	return string(b)
}

// seenPlace is where the URL of entry m is in its partition's seen set:
// the bucket's key suffix and the field (spyder.lua's seen).
func (s *Store) seenPlace(m string) (bucket, field string) {
	return "s:" + strconv.Itoa((int(m[0])<<8|int(m[1]))%s.bkts), m[2:fpLen]
}

// appendEvent adds one event to a record's history text.
func appendEvent(b []byte, kind, state byte, atMS, value int64) []byte {
	b = strconv.AppendInt(b, int64(kind), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(state), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, atMS, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, value, 10)
	return append(b, ';')
}

// recordHead is the first six fields of a URL record, each ended by \0.
func recordHead(state byte, status int16, attempts, level, depth int, url string) []byte {
	b := make([]byte, 0, 32+len(url))
	for _, n := range []int64{int64(state), int64(status), int64(attempts), int64(level), int64(depth)} {
		b = strconv.AppendInt(b, n, 10)
		b = append(b, 0)
	}
	b = append(b, url...)
	return append(b, 0)
}
