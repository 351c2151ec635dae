package frontier

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
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
//	'L' lease8                        -> key16 queue8 deadline8: leases in flight
//	'M' name                          -> counters and sequence watermarks
//	'S' host                          -> (empty): the hosts of the seeds
//
// A queue is one host for multiple_host and the whole crawl for
// single_host. Writes of one loop turn of the master go into one indexed
// batch (reads see it) and are committed with fsync by Commit: a group
// commit.
const (
	pfxURL   = 'U'
	pfxQueue = 'Q'
	pfxHost  = 'H'
	pfxLease = 'L'
	pfxMeta  = 'M'
	pfxSeed  = 'S' // 'S' host -> "": hosts of seeds (the default scope)
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

// ErrStaleLease is wrapped by Done and Release for a lease that is not
// outstanding (late, duplicate or forged), or that belongs to another URL.
var ErrStaleLease = errors.New("lease is not outstanding")

func init() {
	Register("single_host", func(opts Options) (Frontier, error) {
		return openDurable(opts, durableConfig{
			queueOf:            func(string) string { return "*" },
			delayAfterDispatch: true,
		})
	})
	Register("multiple_host", func(opts Options) (Frontier, error) {
		return openDurable(opts, durableConfig{
			queueOf:             Host,
			maxInFlightPerQueue: 1,
			delayAfterDispatch:  true,
		})
	})
}

// durableConfig shapes the engine into one of the registered frontiers.
type durableConfig struct {
	// queueOf maps a normalized URL to its queue name.
	queueOf func(url string) string
	// maxInFlightPerQueue bounds the URLs of one queue in flight (0: no bound).
	maxInFlightPerQueue int
	// delayAfterDispatch starts the politeness pause at dispatch (spyder's
	// SingleHostFrontier) rather than only after the result.
	delayAfterDispatch bool
}

// Durable is a frontier whose state survives kill -9.
type Durable struct {
	opts Options
	cfg  durableConfig
	db   *pebble.DB
	b    *pebble.Batch // the open group commit
	lock *dirLock
	// dirty queues get their record written once, at Commit.
	dirty map[*queueState]struct{}

	queues map[uint64]*queueState
	ready  readyHeap // queues with URLs that may become dispatchable
	leases map[int64]*leaseState

	seq       uint64 // next Q sequence number
	nextLease int64
	stats     Stats
}

type queueState struct {
	id          uint64
	name        string
	nextAllowed time.Time
	queued      int64
	headDue     time.Time // due time of the first queued URL (valid if queued > 0)
	inFlight    int
	index       int // in ready, -1 if not
	// cursor is a lower bound of the queue's live entries: popped entries
	// stay behind as tombstones until compaction, and seeking from the
	// prefix would walk over all of them (the LSM queue anti-pattern).
	cursor []byte
	// buf reads ahead the queue's first entries, in order, so that a
	// dispatch does not open an iterator each time; bufToEnd says it holds
	// every entry. Kept only while the queue can dispatch (memory stays
	// bounded by the queues being drained, not by the URLs queued).
	buf      []queueEntry
	bufToEnd bool
}

type queueEntry struct {
	key []byte // the 'Q' key
	k   Key
	rec []byte // the URL's record as it was queued
}

func (e queueEntry) due() int64 { return int64(binary.BigEndian.Uint64(e.key[9:])) }

// readAhead is how many queue entries one iterator reads.
const readAhead = 64

// fill reads up to readAhead entries of q from its cursor on.
func (f *Durable) fill(q *queueState) error {
	it, err := f.iterFrom(q)
	if err != nil {
		return err
	}
	defer it.Close()
	q.buf, q.bufToEnd = q.buf[:0], false
	n := readAhead
	if f.cfg.maxInFlightPerQueue > 0 {
		// The queue stops dispatching after that many: its buffer is then
		// dropped, so reading further would be wasted.
		n = f.cfg.maxInFlightPerQueue + 1
	}
	ok := it.First()
	for ; ok && len(q.buf) < n; ok = it.Next() {
		v := it.Value()
		if len(v) < 16 {
			return fmt.Errorf("frontier store: corrupt queue entry")
		}
		e := queueEntry{key: append([]byte(nil), it.Key()...), rec: append([]byte(nil), v[16:]...)}
		copy(e.k[:], v)
		q.buf = append(q.buf, e)
	}
	q.bufToEnd = !ok
	return it.Error()
}

// iterFrom returns an iterator over q's entries from its cursor on.
func (f *Durable) iterFrom(q *queueState) (*pebble.Iterator, error) {
	p := queuePrefix(q.id)
	lower := p
	if q.cursor != nil {
		lower = q.cursor
	}
	return f.b.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upperBound(p)})
}

type leaseState struct {
	key      Key
	url      string
	queue    uint64
	deadline time.Time
	rec      urlRecord // the URL's record as the lease left it
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
	b := make([]byte, 0, 48+len(r.url)+len(r.etag)+len(r.lastMod))
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
	return b
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
	if len(rest) < 1 || len(rest) != 1+18*int(rest[0]) {
		return urlRecord{}, bad
	}
	r.history = make([]event, rest[0])
	for i := range r.history {
		e := rest[1+18*i:]
		r.history[i] = event{at: int64(binary.BigEndian.Uint64(e)), value: int64(binary.BigEndian.Uint64(e[8:])), kind: e[16], state: e[17]}
	}
	return r, nil
}

func urlKey(k Key) []byte { return append([]byte{pfxURL}, k[:]...) }

func queueKey(queue uint64, due int64, prio int16, seq uint64) []byte {
	b := make([]byte, 0, 27)
	b = append(b, pfxQueue)
	b = binary.BigEndian.AppendUint64(b, queue)
	b = binary.BigEndian.AppendUint64(b, uint64(due))
	b = binary.BigEndian.AppendUint16(b, uint16(prio)^0x8000) // signed order
	return binary.BigEndian.AppendUint64(b, seq)
}

func queuePrefix(queue uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfxQueue}, queue)
}

func hostKey(queue uint64) []byte { return binary.BigEndian.AppendUint64([]byte{pfxHost}, queue) }

func leaseKey(id int64) []byte { return binary.BigEndian.AppendUint64([]byte{pfxLease}, uint64(id)) }

func metaKey(name string) []byte { return append([]byte{pfxMeta}, name...) }

// queueID names a queue by the first 8 bytes of its name's key.
func queueID(name string) uint64 {
	k := KeyOf(name)
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

// openDurable opens (or creates) the store under opts.Dir and rebuilds the
// in-memory summaries. Leases found in the store belonged to a master that
// stopped without their results: their URLs are queued again at once.
func openDurable(opts Options, cfg durableConfig) (_ *Durable, err error) {
	if opts.LeaseTimeout <= 0 {
		opts.LeaseTimeout = 90 * time.Second
	}
	// Bloom filters on every level: most lookups are of links never seen,
	// and a filter answers those without reading a block.
	cache := pebble.NewCache(128 << 20)
	defer cache.Unref()
	po := &pebble.Options{Logger: pebbleLogger{opts.Logger}, Cache: cache, MemTableSize: 16 << 20}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	dir := opts.Dir
	if dir == "" {
		po.FS = vfs.NewMem()
		dir = "mem"
	}
	var lock *dirLock
	if opts.Dir != "" {
		if lock, err = lockDir(opts.Dir); err != nil {
			return nil, err
		}
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		lock.unlock()
		return nil, fmt.Errorf("opening frontier store in %s: %w", opts.Dir, err)
	}
	f := &Durable{opts: opts, cfg: cfg, db: db, lock: lock, queues: map[uint64]*queueState{}, leases: map[int64]*leaseState{}, dirty: map[*queueState]struct{}{}}
	f.b = db.NewIndexedBatch()
	if err := f.load(time.Now()); err != nil {
		db.Close()
		lock.unlock()
		return nil, err
	}
	return f, nil
}

func (f *Durable) load(now time.Time) error {
	if err := f.loadMeta(); err != nil {
		return err
	}
	// Queues: their clocks and sizes, and the due time of each head.
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxHost}, UpperBound: []byte{pfxHost + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 9 || len(v) < 16 {
			it.Close()
			return fmt.Errorf("frontier store: corrupt queue record")
		}
		q := &queueState{
			id:          binary.BigEndian.Uint64(k[1:]),
			nextAllowed: fromUnixNano(int64(binary.BigEndian.Uint64(v))),
			queued:      int64(binary.BigEndian.Uint64(v[8:])),
			name:        string(v[16:]),
			index:       -1,
		}
		f.queues[q.id] = q
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, q := range f.queues {
		if q.queued > 0 {
			if err := f.refreshHead(q); err != nil {
				return err
			}
		}
	}
	// Leases of the previous run: their URLs go back to the queue.
	var expired []int64
	it, err = f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxLease}, UpperBound: []byte{pfxLease + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 9 || len(v) != 32 {
			it.Close()
			return fmt.Errorf("frontier store: corrupt lease record")
		}
		id := int64(binary.BigEndian.Uint64(k[1:]))
		var key Key
		copy(key[:], v[:16])
		f.leases[id] = &leaseState{key: key, queue: binary.BigEndian.Uint64(v[16:])}
		expired = append(expired, id)
	}
	if err := it.Close(); err != nil {
		return err
	}
	for _, id := range expired {
		l := f.leases[id]
		rec, err := f.getRecord(l.key)
		if err != nil {
			return err
		}
		l.url, l.rec = rec.url, rec
		if q := f.queues[l.queue]; q != nil {
			q.inFlight++
		}
		if err := f.requeue(id, l, now); err != nil {
			return err
		}
	}
	if f.nextLease < now.UnixNano() {
		f.nextLease = now.UnixNano() // distinct from any lease a worker may still hold
	}
	for _, q := range f.queues {
		f.updateReady(q)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	if len(expired) > 0 {
		f.opts.Logger.Info().Int("leases", len(expired)).Msg("frontier: URLs in flight at the last stop are queued again")
	}
	return nil
}

func (f *Durable) loadMeta() error {
	v, closer, err := f.db.Get(metaKey("state"))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	if len(v) != 8*8 {
		return fmt.Errorf("frontier store: corrupt meta record")
	}
	r := func(i int) int64 { return int64(binary.BigEndian.Uint64(v[8*i:])) }
	f.stats = Stats{Seen: r(0), Queued: r(1), Done: r(2), Failed: r(3), Scheduled: r(6), Retried: r(7)}
	f.seq, f.nextLease = uint64(r(4)), r(5)
	return nil
}

func (f *Durable) writeMeta() error {
	v := make([]byte, 0, 64)
	for _, n := range []int64{f.stats.Seen, f.stats.Queued, f.stats.Done, f.stats.Failed, int64(f.seq), f.nextLease, f.stats.Scheduled, f.stats.Retried} {
		v = binary.BigEndian.AppendUint64(v, uint64(n))
	}
	return f.b.Set(metaKey("state"), v, nil)
}

func (f *Durable) writeQueue(q *queueState) error {
	v := make([]byte, 0, 16+len(q.name))
	v = binary.BigEndian.AppendUint64(v, uint64(unixNano(q.nextAllowed)))
	v = binary.BigEndian.AppendUint64(v, uint64(q.queued))
	v = append(v, q.name...)
	return f.b.Set(hostKey(q.id), v, nil)
}

func (f *Durable) getRecord(k Key) (urlRecord, error) {
	v, closer, err := f.b.Get(urlKey(k))
	if err != nil {
		return urlRecord{}, err
	}
	defer closer.Close()
	return decodeURLRecord(v)
}

// refreshHead reads the due time of q's first queued URL.
func (f *Durable) refreshHead(q *queueState) error {
	// Only the head: at start-up every queue is read, and read-ahead for
	// all of them would cost memory in proportion to the URLs queued.
	q.buf, q.bufToEnd = nil, false
	it, err := f.iterFrom(q)
	if err != nil {
		return err
	}
	defer it.Close()
	if it.First() {
		q.headDue = time.Unix(0, int64(binary.BigEndian.Uint64(it.Key()[9:])))
	} else {
		q.queued = 0
	}
	return it.Error()
}

func (f *Durable) queue(name string) *queueState {
	id := queueID(name)
	q := f.queues[id]
	if q == nil {
		q = &queueState{id: id, name: name, index: -1}
		f.queues[id] = q
	}
	return q
}

// enqueue writes the queue entry of a URL record and updates its queue.
func (f *Durable) enqueue(k Key, rec *urlRecord, q *queueState) error {
	f.seq++
	qk := queueKey(q.id, rec.due, rec.priority, f.seq)
	// The entry carries a copy of the record: a queued URL's record does not
	// change until it is popped, and the pop then needs no read.
	enc := rec.encode()
	v := make([]byte, 0, 16+len(enc))
	v = append(append(v, k[:]...), enc...)
	if err := f.b.Set(qk, v, nil); err != nil {
		return err
	}
	if q.cursor != nil && bytes.Compare(qk, q.cursor) < 0 {
		q.cursor = qk
	}
	if n := len(q.buf); n > 0 || q.bufToEnd {
		e := queueEntry{key: qk, k: k, rec: enc}
		i := sort.Search(n, func(i int) bool { return bytes.Compare(q.buf[i].key, qk) > 0 })
		if i < n || q.bufToEnd {
			q.buf = slices.Insert(q.buf, i, e)
		}
	}
	due := time.Unix(0, rec.due)
	if q.queued == 0 || due.Before(q.headDue) {
		q.headDue = due
	}
	q.queued++
	if rec.state == stateScheduled {
		f.stats.Scheduled++
	} else {
		f.stats.Queued++
	}
	return nil
}

// AddSeeds implements Frontier.
func (f *Durable) AddSeeds(urls []string, now time.Time) (int, error) {
	hosts := map[string]struct{}{}
	for _, u := range urls {
		if h := Host(u); h != "" {
			hosts[h] = struct{}{}
		}
	}
	for h := range hosts {
		if err := f.b.Set(append([]byte{pfxSeed}, h...), nil, nil); err != nil {
			return 0, err
		}
	}
	return f.addURLs(urls, now, "seed")
}

// SeedHosts implements Frontier.
func (f *Durable) SeedHosts() ([]string, error) {
	it, err := f.b.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxSeed}, UpperBound: []byte{pfxSeed + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var hosts []string
	for it.First(); it.Valid(); it.Next() {
		hosts = append(hosts, string(it.Key()[1:]))
	}
	return hosts, it.Error()
}

// Add implements Frontier.
func (f *Durable) Add(urls []string, now time.Time) (int, error) {
	return f.addURLs(urls, now, "link")
}

func (f *Durable) addURLs(urls []string, now time.Time, kind string) (int, error) {
	added := 0
	touched := map[*queueState]bool{}
	for _, u := range urls {
		k := KeyOf(u)
		_, closer, err := f.b.Get(urlKey(k))
		if err == nil {
			closer.Close()
			continue
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return added, fmt.Errorf("frontier store: %w", err)
		}
		q := f.queue(f.cfg.queueOf(u))
		rec := urlRecord{state: stateQueued, priority: 1, due: now.UnixNano(), queue: q.id, url: u}
		kindCode := evAddedLink
		if kind == "seed" {
			kindCode = evAddedSeed
		}
		rec.note(now, kindCode, 0)
		if err := f.b.Set(urlKey(k), rec.encode(), nil); err != nil {
			return added, err
		}
		if err := f.enqueue(k, &rec, q); err != nil {
			return added, err
		}
		touched[q] = true
		f.stats.Seen++
		added++
	}
	for q := range touched {
		f.dirty[q] = struct{}{}
		f.updateReady(q)
	}
	return added, nil
}

// readyAt is when q may next hand out a URL.
func (q *queueState) readyAt() time.Time {
	if q.nextAllowed.After(q.headDue) {
		return q.nextAllowed
	}
	return q.headDue
}

func (f *Durable) dispatchable(q *queueState) bool {
	return q.queued > 0 && (f.cfg.maxInFlightPerQueue == 0 || q.inFlight < f.cfg.maxInFlightPerQueue)
}

func (f *Durable) updateReady(q *queueState) {
	if !f.dispatchable(q) {
		q.buf, q.bufToEnd = nil, false // read again when it can dispatch
	}
	switch {
	case f.dispatchable(q) && q.index < 0:
		heap.Push(&f.ready, q)
	case f.dispatchable(q):
		heap.Fix(&f.ready, q.index)
	case q.index >= 0:
		heap.Remove(&f.ready, q.index)
	}
}

// Next implements Frontier.
func (f *Durable) Next(now time.Time, max int) ([]*crawluri.CrawlUri, error) {
	var out []*crawluri.CrawlUri
	for len(out) < max && len(f.ready) > 0 {
		q := f.ready[0]
		if q.readyAt().After(now) {
			break
		}
		c, err := f.pop(q, now)
		if err != nil {
			return out, err
		}
		out = append(out, c)
		f.updateReady(q)
	}
	return out, nil
}

// pop leases the first URL of q.
func (f *Durable) pop(q *queueState, now time.Time) (*crawluri.CrawlUri, error) {
	if len(q.buf) == 0 {
		if err := f.fill(q); err != nil {
			return nil, err
		}
		if len(q.buf) == 0 {
			q.queued = 0
			return nil, fmt.Errorf("frontier store: queue %s is empty but counted %d URLs", q.name, q.queued)
		}
	}
	head := q.buf[0]
	q.buf = q.buf[1:]
	k := head.k
	if err := f.b.Delete(head.key, nil); err != nil {
		return nil, err
	}
	q.cursor = append(head.key, 0) // the next possible key after the one taken
	q.queued--
	if q.queued > 0 {
		if len(q.buf) == 0 && !q.bufToEnd {
			if err := f.fill(q); err != nil {
				return nil, err
			}
		}
		if len(q.buf) > 0 {
			q.headDue = time.Unix(0, q.buf[0].due())
		}
	}
	rec, err := decodeURLRecord(head.rec)
	if err != nil {
		return nil, err
	}
	if rec.state == stateScheduled {
		f.stats.Scheduled--
	} else {
		f.stats.Queued--
	}
	f.nextLease++
	id := f.nextLease
	deadline := now.Add(f.opts.LeaseTimeout)
	rec.state, rec.lease = stateInFlight, id
	rec.note(now, evDispatched, id)
	if err := f.b.Set(urlKey(k), rec.encode(), nil); err != nil {
		return nil, err
	}
	lv := make([]byte, 0, 32)
	lv = append(lv, k[:]...)
	lv = binary.BigEndian.AppendUint64(lv, q.id)
	lv = binary.BigEndian.AppendUint64(lv, uint64(deadline.UnixNano()))
	if err := f.b.Set(leaseKey(id), lv, nil); err != nil {
		return nil, err
	}
	f.leases[id] = &leaseState{key: k, url: rec.url, queue: q.id, deadline: deadline, rec: rec}
	q.inFlight++
	if f.cfg.delayAfterDispatch && f.opts.MinDelay > 0 {
		q.nextAllowed = now.Add(f.opts.MinDelay)
	}
	f.dirty[q] = struct{}{}
	c := &crawluri.CrawlUri{URL: rec.url, EffectiveURL: rec.url, CurrentPriority: int16(rec.level), LeaseID: id}
	if rec.etag != "" || rec.lastMod != "" {
		// spyder's header names; the worker turns them into a conditional GET.
		c.ReqHeader = map[string]string{}
		if rec.etag != "" {
			c.ReqHeader["Etag"] = rec.etag
		}
		if rec.lastMod != "" {
			c.ReqHeader["Last-Modified"] = rec.lastMod
		}
	}
	return c, nil
}

// NextDue implements Frontier.
func (f *Durable) NextDue(time.Time) time.Time {
	if len(f.ready) == 0 {
		return time.Time{}
	}
	return f.ready[0].readyAt()
}

// lease returns the outstanding lease id for url, or an error.
func (f *Durable) lease(id int64, url string) (*leaseState, error) {
	l := f.leases[id]
	if l == nil {
		return nil, fmt.Errorf("%w: lease %d (%s)", ErrStaleLease, id, url)
	}
	if url != "" && l.url != url {
		return nil, fmt.Errorf("%w: lease %d is for %s, not %s", ErrStaleLease, id, l.url, url)
	}
	return l, nil
}

// endLease removes a lease from memory and store and frees its queue slot.
func (f *Durable) endLease(id int64, l *leaseState) (*queueState, error) {
	delete(f.leases, id)
	if err := f.b.Delete(leaseKey(id), nil); err != nil {
		return nil, err
	}
	q := f.queues[l.queue]
	if q == nil {
		q = &queueState{id: l.queue, index: -1}
		f.queues[l.queue] = q
	}
	if q.inFlight > 0 {
		q.inFlight--
	}
	return q, nil
}

// Done implements Frontier. The status decides what happens to the URL:
//
//   - 2xx: done; its validators are kept; revisited after CrawlDelta (level 1).
//   - 304: done, unchanged; revisited after CrawlDelta x (level+1), capped.
//   - other 3xx: done (the Location is among the links); no revisit.
//   - 429, 5xx, transport errors (599), worker failures (810), unknown codes:
//     retried after RetryBackoff x 2^(attempt-1) up to MaxRetries times,
//     then failed; 429 and 503 with Retry-After also hold the whole host.
//   - other 4xx: failed.
//
// The queue's politeness clock moves by the fetch's duration either way.
func (f *Durable) Done(res *crawluri.CrawlUri, links []string, now time.Time) (int, error) {
	l, err := f.lease(res.LeaseID, res.URL)
	if err != nil {
		return 0, err
	}
	q, err := f.endLease(res.LeaseID, l)
	if err != nil {
		return 0, err
	}
	rec := l.rec
	rec.lease, rec.status = 0, res.StatusCode
	if next := now.Add(politeDelay(f.opts, res.ReqTime)); next.After(q.nextAllowed) {
		q.nextAllowed = next
	}
	status := res.StatusCode
	retryAfter := time.Duration(0)
	if status == 429 || status == 503 {
		retryAfter = parseRetryAfter(crawluri.HeaderValue(res.RepHeader, "Retry-After"), now, f.opts.MaxRetryAfter)
		if hold := now.Add(retryAfter); hold.After(q.nextAllowed) {
			q.nextAllowed = hold
		}
	}
	switch {
	case status >= 200 && status < 300, status == 304:
		rec.attempts = 0
		if status == 304 {
			rec.level = byte(min(int(max(rec.level, 1))+1, max(f.opts.NumPriorities, 1)))
		} else {
			rec.level = 1
			rec.etag = crawluri.HeaderValue(res.RepHeader, "Etag")
			rec.lastMod = crawluri.HeaderValue(res.RepHeader, "Last-Modified")
		}
		f.stats.Done++
		if f.opts.CrawlDelta > 0 {
			rec.state = stateScheduled
			rec.due = now.Add(f.opts.CrawlDelta * time.Duration(rec.level)).UnixNano()
		} else {
			rec.state = stateDone
		}
	case status >= 300 && status < 400:
		rec.state = stateDone
		f.stats.Done++
	case status == 429 || status >= 500 || status < 100:
		if int(rec.attempts) < f.opts.MaxRetries {
			rec.attempts++
			wait := f.opts.RetryBackoff << (rec.attempts - 1)
			rec.state, rec.due = stateQueued, now.Add(max(wait, retryAfter)).UnixNano()
			f.stats.Retried++
		} else {
			rec.state = stateFailed
			f.stats.Failed++
		}
	default:
		rec.state = stateFailed
		f.stats.Failed++
	}
	rec.note(now, evResult, int64(status))
	if rec.state == stateQueued || rec.state == stateScheduled {
		if err := f.enqueue(l.key, &rec, q); err != nil {
			return 0, err
		}
	}
	if err := f.b.Set(urlKey(l.key), rec.encode(), nil); err != nil {
		return 0, err
	}
	f.dirty[q] = struct{}{}
	f.updateReady(q)
	return f.Add(links, now)
}

// parseRetryAfter reads a Retry-After value (seconds or an HTTP date),
// capped at limit; an absent or unreadable value is 0.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(limit/time.Second)+1)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}

// Release implements Frontier.
func (f *Durable) Release(id int64, now time.Time) error {
	l, err := f.lease(id, "")
	if err != nil {
		return err
	}
	return f.requeue(id, l, now)
}

func (f *Durable) requeue(id int64, l *leaseState, now time.Time) error {
	q, err := f.endLease(id, l)
	if err != nil {
		return err
	}
	rec := l.rec
	rec.state, rec.lease, rec.due = stateQueued, 0, now.UnixNano()
	rec.note(now, evLeaseEnded, id)
	if err := f.b.Set(urlKey(l.key), rec.encode(), nil); err != nil {
		return err
	}
	if q.name == "" {
		q.name = f.cfg.queueOf(rec.url)
	}
	if err := f.enqueue(l.key, &rec, q); err != nil {
		return err
	}
	f.dirty[q] = struct{}{}
	f.updateReady(q)
	return nil
}

// Expire implements Frontier.
func (f *Durable) Expire(now time.Time) ([]Expired, error) {
	var out []Expired
	for id, l := range f.leases {
		if now.Before(l.deadline) {
			continue
		}
		if err := f.requeue(id, l, now); err != nil {
			return out, err
		}
		out = append(out, Expired{Lease: id, URL: l.url})
	}
	return out, nil
}

// Stats implements Frontier.
func (f *Durable) Stats() Stats {
	s := f.stats
	s.InFlight = int64(len(f.leases))
	return s
}

// Commit implements Frontier: one fsync for everything since the last one.
func (f *Durable) Commit() error {
	for q := range f.dirty {
		if err := f.writeQueue(q); err != nil {
			return err
		}
		delete(f.dirty, q)
	}
	if f.b.Empty() {
		return nil
	}
	if err := f.writeMeta(); err != nil {
		return err
	}
	if err := f.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("committing frontier state: %w", err)
	}
	f.b.Close()
	f.b = f.db.NewIndexedBatch()
	return nil
}

// Close implements Frontier: it commits and closes the store.
func (f *Durable) Close() error {
	err := f.Commit()
	f.b.Close()
	if cerr := f.db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing frontier store: %w", cerr)
	}
	f.lock.unlock()
	return err
}

// readyHeap orders queues by the moment they may hand out a URL.
type readyHeap []*queueState

func (h readyHeap) Len() int           { return len(h) }
func (h readyHeap) Less(i, j int) bool { return h[i].readyAt().Before(h[j].readyAt()) }
func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *readyHeap) Push(x any) {
	q := x.(*queueState)
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *readyHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	q.index = -1
	return q
}

// pebbleLogger passes Pebble's errors to the frontier's logger and keeps
// its informational chatter out of the crawl log.
type pebbleLogger struct{ log zerolog.Logger }

func (l pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error().Str("component", "pebble").Msgf(format, args...)
}
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error().Str("component", "pebble").Msgf(format, args...)
	panic(fmt.Sprintf("pebble: "+format, args...))
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
