// keys.go: the store's key spaces (every prefix is here) and the
// encodings of its records: URLs, queue entries, leases, queues.

package frontier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/spyder-crawl/spyder/urlx"
)

// The durable frontier keeps every piece of crawl state in a Pebble
// database; memory holds only per-queue summaries and the leases in flight,
// all rebuilt when the database is opened.
//
// Key spaces (all integers big-endian, so byte order is numeric order):
//
//	'U' key16                         -> urlRecord: the seen set and each URL's state
//	'Q' queue8 due8 prio2 seq8        -> key16: queued URLs, per queue by due time
//	'H' queue8                        -> queueRecord: politeness clock, size, name
//	'L' lease8                        -> (lease8 qkey27 deadline8)*: a dispatch batch's leases
//	'M' name                          -> counters and sequence watermarks
//	'S' host                          -> (empty): the hosts of the seeds
//	'R' origin                        -> robots.txt rules and their expiry (robots.go)
//	'D' queue8                        -> delay8 until8: an operator's delay and block for the queue (hostctl.go)
//	'C' host                          -> count8: URLs admitted for the host (for Options.MaxURLsPerHost)
//
// A queue is one host for multiple_host and the whole crawl for
// single_host. Writes of one loop turn of the master go into one indexed
// batch (reads see it) and are committed with fsync by Commit: a group
// commit.
//
// A dispatched URL's queue entry stays in the store until its result is
// applied: the result deletes it and rewrites the URL's record in one
// commit, so a URL in flight at a kill -9 is simply still queued, and
// dispatch itself writes one lease record per batch of URLs (for inspect),
// not a record per URL. In memory, leased entries are skipped when a queue
// is read.
const (
	pfxURL   = 'U'
	pfxQueue = 'Q'
	pfxHost  = 'H'
	pfxLease = 'L'
	pfxMeta  = 'M'
	pfxSeed  = 'S' // 'S' host -> "": hosts of seeds (the default scope)

	pfxRobots    = 'R' // 'R' origin -> robotsRecord (robots.go)
	pfxDelay     = 'D' // 'D' queue8 -> delay8 (ns, -1: none) blockedUntil8 (unix ns, 0: none) (hostctl.go)
	pfxHostCount = 'C' // 'C' host -> count8 (hostctl.go)
)

// URL states in urlRecord.
const (
	stateQueued    byte = iota // waiting for its first fetch, or for a retry
	stateInFlight              // leased to a worker
	stateDone                  // fetched (2xx, 3xx) and not to be revisited
	stateFailed                // 4xx, or 5xx/transport errors beyond the retries
	stateScheduled             // fetched, queued again for a revisit
)

var stateNames = map[byte]string{
	stateQueued: "queued", stateInFlight: "in flight", stateDone: "done",
	stateFailed: "failed", stateScheduled: "scheduled for a revisit",
}

type urlRecord struct {
	state    byte
	attempts byte  // fetches that failed in a row (retries so far)
	level    byte  // revisit level: interval = crawl delta x level
	priority int16 // queue order among URLs due at the same time
	status   int16 // last status
	due      int64 // unix ns, while queued or scheduled
	lease    int64 // while in flight
	queue    uint64
	url      string
	etag     string // validators of the last 2xx, for conditional GET
	lastMod  string
	history  []event // the latest maxHistory events, oldest first
	depth    uint16  // links followed from a seed (seeds: 0), saturating
	// capture is the WARC capture of the URL's last archived payload
	// (crawluri.CrawlUri.WARCCapture), for the next fetch to compare.
	capture string
	// via and hopPath: how the URL was found (Discovery), when kept.
	via, hopPath string
}

// An event is one step in a URL's life, kept in its record for inspect.
type event struct {
	at    int64 // unix ns
	value int64 // lease or status
	kind  byte
	state byte // the URL's state after the event
}

const (
	evAddedSeed byte = iota + 1
	evAddedLink
	evDispatched
	evResult
	evLeaseEnded
)

// maxHistory bounds the events a record keeps; older ones are dropped.
const maxHistory = 16

func (r *urlRecord) note(now time.Time, kind byte, value int64) {
	if len(r.history) == maxHistory {
		r.history = append(r.history[:0:0], r.history[1:]...)
	}
	r.history = append(r.history, event{at: now.UnixNano(), value: value, kind: kind, state: r.state})
}

func (r *urlRecord) encode() []byte {
	return r.appendEncoded(make([]byte, 0, 48+len(r.url)+len(r.etag)+len(r.lastMod)+len(r.capture)+len(r.via)+len(r.hopPath)))
}

// appendEncoded appends the record's encoding to b.
func (r *urlRecord) appendEncoded(b []byte) []byte {
	b = append(b, 1, r.state, r.attempts, r.level)
	b = binary.BigEndian.AppendUint16(b, uint16(r.priority))
	b = binary.BigEndian.AppendUint16(b, uint16(r.status))
	b = binary.BigEndian.AppendUint64(b, uint64(r.due))
	b = binary.BigEndian.AppendUint64(b, uint64(r.lease))
	b = binary.BigEndian.AppendUint64(b, r.queue)
	for _, str := range []string{r.url, r.etag, r.lastMod} {
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	}
	b = append(b, byte(len(r.history)))
	for _, e := range r.history {
		b = binary.BigEndian.AppendUint64(b, uint64(e.at))
		b = binary.BigEndian.AppendUint64(b, uint64(e.value))
		b = append(b, e.kind, e.state)
	}
	b = binary.BigEndian.AppendUint16(b, r.depth)
	for _, f := range [...]struct {
		tag   byte
		value string
	}{{tagCapture, r.capture}, {tagVia, r.via}, {tagHopPath, r.hopPath}} {
		if f.value != "" {
			b = append(b, f.tag)
			b = binary.AppendUvarint(b, uint64(len(f.value)))
			b = append(b, f.value...)
		}
	}
	return b
}

// Fields a record has only when set follow its depth, each a tag byte and
// a length-prefixed value (records without them encode as before).
const (
	tagCapture byte = iota + 1
	tagVia
	tagHopPath
)

// A recordTemplate encodes records that differ only in their queue and
// URL (a bulk load's seeds) by copying the rest from one encoding.
type recordTemplate struct{ head, tail []byte }

// newRecordTemplate cuts r's encoding around its queue and URL; r has no
// URL.
func newRecordTemplate(r urlRecord) recordTemplate {
	b := r.encode()
	// 24 bytes, the queue (8), the URL's length (1 byte: 0), the rest.
	return recordTemplate{head: b[:24], tail: b[33:]}
}

// appendRecord appends the encoding of the template's record with queue
// and url.
func (t recordTemplate) appendRecord(b []byte, queue uint64, url []byte) []byte {
	b = append(b, t.head...)
	b = binary.BigEndian.AppendUint64(b, queue)
	b = binary.AppendUvarint(b, uint64(len(url)))
	b = append(b, url...)
	return append(b, t.tail...)
}

func decodeURLRecord(b []byte) (urlRecord, error) {
	bad := fmt.Errorf("frontier store: corrupt url record (%d bytes)", len(b))
	if len(b) < 32 || b[0] != 1 {
		return urlRecord{}, bad
	}
	r := urlRecord{
		state:    b[1],
		attempts: b[2],
		level:    b[3],
		priority: int16(binary.BigEndian.Uint16(b[4:])),
		status:   int16(binary.BigEndian.Uint16(b[6:])),
		due:      int64(binary.BigEndian.Uint64(b[8:])),
		lease:    int64(binary.BigEndian.Uint64(b[16:])),
		queue:    binary.BigEndian.Uint64(b[24:]),
	}
	rest := b[32:]
	for _, dst := range []*string{&r.url, &r.etag, &r.lastMod} {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return urlRecord{}, bad
		}
		*dst = string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
	}
	if len(rest) < 1 {
		return urlRecord{}, bad
	}
	switch n := 1 + 18*int(rest[0]); {
	case len(rest) == n: // written before depth was kept
	case len(rest) >= n+2:
		r.depth = binary.BigEndian.Uint16(rest[n:])
		for tail := rest[n+2:]; len(tail) > 0; {
			v, w := binary.Uvarint(tail[1:])
			if w <= 0 || uint64(len(tail)-1-w) < v {
				return urlRecord{}, bad
			}
			switch value := string(tail[1+w : 1+w+int(v)]); tail[0] {
			case tagCapture:
				r.capture = value
			case tagVia:
				r.via = value
			case tagHopPath:
				r.hopPath = value
			} // (a tag of a later version: skipped)
			tail = tail[1+w+int(v):]
		}
	default:
		return urlRecord{}, bad
	}
	r.history = make([]event, rest[0])
	for i := range r.history {
		e := rest[1+18*i:]
		r.history[i] = event{at: int64(binary.BigEndian.Uint64(e)), value: int64(binary.BigEndian.Uint64(e[8:])), kind: e[16], state: e[17]}
	}
	return r, nil
}

func urlKey(k urlx.Key) []byte { return append([]byte{pfxURL}, k[:]...) }

func queueKey(queue uint64, due int64, prio int16, seq uint64) []byte {
	return appendQueueKey(make([]byte, 0, 27), queue, due, prio, seq)
}

// appendQueueKey appends a queue entry's key to b.
func appendQueueKey(b []byte, queue uint64, due int64, prio int16, seq uint64) []byte {
	b = append(b, pfxQueue)
	b = binary.BigEndian.AppendUint64(b, queue)
	b = binary.BigEndian.AppendUint64(b, uint64(due))
	b = binary.BigEndian.AppendUint16(b, uint16(prio)^0x8000) // signed order
	return binary.BigEndian.AppendUint64(b, seq)
}

// queueKeyDue is the due time (unix ns) in a queue key.
func queueKeyDue(qkey []byte) int64 { return int64(binary.BigEndian.Uint64(qkey[9:])) }

// queueKeyQueue is the queue of a queue key.
func queueKeyQueue(qkey []byte) uint64 { return binary.BigEndian.Uint64(qkey[1:]) }

func queuePrefix(queue uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfxQueue}, queue)
}

func hostKey(queue uint64) []byte { return binary.BigEndian.AppendUint64([]byte{pfxHost}, queue) }

func leaseKey(id int64) []byte { return binary.BigEndian.AppendUint64([]byte{pfxLease}, uint64(id)) }

// leaseEntryLen is the size of one lease in a lease record: the lease id,
// its queue entry's key and its deadline.
const leaseEntryLen = 8 + 27 + 8

type leaseEntry struct {
	id       int64
	qkey     []byte
	deadline time.Time
}

func decodeLeaseRecord(k, v []byte) ([]leaseEntry, error) {
	if len(k) != 9 || len(v)%leaseEntryLen != 0 {
		return nil, errors.New("frontier store: corrupt lease record")
	}
	out := make([]leaseEntry, 0, len(v)/leaseEntryLen)
	for ; len(v) > 0; v = v[leaseEntryLen:] {
		out = append(out, leaseEntry{
			id:       int64(binary.BigEndian.Uint64(v)),
			qkey:     append([]byte(nil), v[8:35]...),
			deadline: time.Unix(0, int64(binary.BigEndian.Uint64(v[35:]))),
		})
	}
	return out, nil
}

func metaKey(name string) []byte { return append([]byte{pfxMeta}, name...) }

// queueID names a queue by the first 8 bytes of its name's key.
func queueID(name string) uint64 {
	k := urlx.KeyOf(name)
	return binary.BigEndian.Uint64(k[:8])
}

// upperBound returns the smallest key greater than every key with prefix p.
func upperBound(p []byte) []byte {
	u := append([]byte(nil), p...)
	for i := len(u) - 1; i >= 0; i-- {
		u[i]++
		if u[i] != 0 {
			return u[:i+1]
		}
	}
	return nil
}

// queueRecordHeader is the fixed part of a queue record: politeness clock,
// entries stored, ordinal and (format 4) the head's due time; the name
// follows. Format 3 had no head.
const (
	queueRecordHeader   = 32
	queueRecordHeaderV3 = 24
)

// The head's due time in a queue record is a lower bound of the due times
// of the queue's stored entries that are not leased, as of the record's
// commit: exact when the queue changed in that commit (every change that
// moves the head earlier marks the queue dirty), possibly earlier when a
// dispatch has moved the head on since. The leased entries are in the
// lease records, which a restart reads. So a restart takes every queue's
// head from its record instead of reading a million queues' entries, and
// next corrects a head that turns out to be later.

func (f *Durable) decodeQueueRecord(k, v []byte) (q *queueState, allowed int64, err error) {
	q = new(queueState)
	allowed, err = f.decodeQueueRecordTo(q, k, v)
	return q, allowed, err
}

// decodeQueueRecordTo decodes into a state allocated by the caller
// (allocQueue), keeping the group it came with; allowed is the politeness
// clock the record keeps (unix ns, 0: none), for the group q joins.
func (f *Durable) decodeQueueRecordTo(q *queueState, k, v []byte) (allowed int64, err error) {
	header := queueRecordHeader
	if f.format < 4 {
		header = queueRecordHeaderV3
	}
	if len(k) != 9 || len(v) < header {
		return 0, errors.New("frontier store: corrupt queue record")
	}
	*q = queueState{
		id:      binary.BigEndian.Uint64(k[1:]),
		queued:  int64(binary.BigEndian.Uint64(v[8:])),
		ordinal: binary.BigEndian.Uint64(v[16:]),
		name:    intern(&f.names, v[header:]),
		mIdx:    -1,
		grp:     q.grp, // allocQueue's own group
	}
	if header == queueRecordHeader {
		q.headDue = int64(binary.BigEndian.Uint64(v[24:]))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func (f *Durable) queueRecord(q *queueState) []byte {
	var allowed int64
	if q.grp != nil {
		allowed = q.grp.nextAllowed
	} else {
		allowed = f.unjoined[q]
	}
	var head int64 // no unleased entry: the lease records have the rest
	if q.queued > 0 {
		head = q.headDue
	}
	v := make([]byte, 0, queueRecordHeader+len(q.name))
	v = binary.BigEndian.AppendUint64(v, uint64(allowed))
	v = binary.BigEndian.AppendUint64(v, uint64(q.queued+int64(q.leased))) // entries stored
	v = binary.BigEndian.AppendUint64(v, q.ordinal)
	v = binary.BigEndian.AppendUint64(v, uint64(head))
	return append(v, q.name...)
}

// unixNano is t in nanoseconds since the epoch, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano inverts unixNano.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
