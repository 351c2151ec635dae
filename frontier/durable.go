package frontier

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/spyder-crawl/spyder/urlx"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
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
			queueOf:            func(string) string { return WholeCrawl },
			delayAfterDispatch: true,
		})
	})
	Register("multiple_host", func(opts Options) (Frontier, error) {
		return openDurable(opts, durableConfig{
			queueOf:            func(host string) string { return host },
			maxInFlight:        1,
			delayAfterDispatch: true,
			slots:              true,
			byIP:               opts.QueueAssignment == "ip_based",
		})
	})
}

// durableConfig shapes the engine into one of the registered frontiers.
type durableConfig struct {
	// queueOf maps the host of a URL to its queue name.
	queueOf func(host string) string
	// maxInFlight bounds the URLs of one politeness group in flight (0: no
	// bound).
	maxInFlight int
	// delayAfterDispatch starts the politeness pause at dispatch (spyder's
	// SingleHostFrontier) rather than only after the result.
	delayAfterDispatch bool
	// slots honours Options.ActiveQueues and the queue budget.
	slots bool
	// byIP groups host queues by their IP address for politeness.
	byIP bool
}

// Durable is a frontier whose state survives kill -9.
type Durable struct {
	opts Options
	cfg  durableConfig
	db   *pebble.DB
	po   *pebble.Options
	dir  string        // the store's directory in po.FS
	b    *pebble.Batch // the open group commit
	// syncing is the last committed batch while its fsync may still run.
	syncing *pebble.Batch
	qit     *pebble.Iterator // over b's queue entries; see iterFrom
	uit     *pebble.Iterator // over b's seen set; see seenIter
	rit     *pebble.Iterator // over b's robots.txt records; see robotsState
	lock    *dirLock
	// dirty queues get their record written once, at Commit.
	dirty map[*queueState]struct{}

	queues map[uint64]*queueState
	groups map[string]*group
	leases map[int64]*leaseState
	// leasedQ maps the queue entry of each lease to it: those entries stay
	// in the store until the result, and are skipped when a queue is read.
	leasedQ map[string]int64
	// batches counts the open leases of each lease record; batch collects
	// the record of the Next call in progress.
	batches map[int64]int
	batch   []byte
	batchID int64
	// leasedQueued and leasedScheduled count the leases by what their URL
	// was before: stored, they are queued or scheduled.
	leasedQueued, leasedScheduled int64

	// Politeness groups with URLs are in exactly one of: ready (active and
	// below their in-flight bound), pending (waiting for a slot, not due
	// yet), eligible (waiting for a slot, due), cooling (just rotated out),
	// or none (at their in-flight bound).
	ready    groupHeap
	pending  groupHeap
	eligible rankSet
	cooling  []*group
	slots    int // active groups allowed (0: every group with URLs is active)
	active   int
	withURLs int // groups with URLs
	selector QueueSelector

	// Answers of the asynchronous DNS lookups of IP-based assignment,
	// handed over by the resolver's goroutines.
	resolvedMu sync.Mutex
	resolved   []resolvedHost

	// robots caches what is known of origins' robots.txt; decided collects
	// the URLs it took out of the crawl, for Decided.
	robots  map[string]*originRobots
	decided []*crawluri.CrawlUri
	// hostURLs caches the URLs admitted per host (only with
	// MaxURLsPerHost); the store has the rest.
	hostURLs map[string]int64
	// hostsCounted are the hosts whose count changed since the last
	// Commit, which stores them.
	hostsCounted map[string]struct{}

	// broken is set when memory and store disagree, after a failed bulk
	// load or a failed commit: nothing more is committed, and the store
	// keeps its last commit (reopen it to go on from there).
	broken error
	closed bool

	bulkGen   uint64 // bulk loads so far
	seq       uint64 // next Q sequence number
	queueSeq  uint64 // next queue ordinal
	nextLease int64
	stats     Stats
}

type resolvedHost struct {
	host, ip string
	err      error
}

type queueState struct {
	id      uint64
	name    string
	ordinal uint64 // creation order, persisted
	queued  int64
	headDue time.Time // due time of the first queued URL (valid if queued > 0)
	grp     *group    // nil while its IP is being resolved
	leased  int       // entries of the queue in flight (still stored)
	mIdx    int       // in grp.members, -1 if not
	bulkGen uint64    // the last bulk load that added to the queue
	// savedAllowed is the politeness clock read from the store, applied to
	// the group the queue joins.
	savedAllowed time.Time
	// delay replaces Options.MinDelay when hasDelay (SetHostDelay);
	// blockedUntil is an operator's block (BlockHost).
	delay        time.Duration
	hasDelay     bool
	blockedUntil time.Time
	// cursor is a lower bound of the entries not yet dispatched: the ones
	// before it are leased (still stored until their results) or gone as
	// tombstones until compaction, and seeking from the prefix would walk
	// over all of them (the LSM queue anti-pattern).
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
	k   urlx.Key
	rec []byte // the URL's record as it was queued
}

func (e queueEntry) due() int64 { return int64(binary.BigEndian.Uint64(e.key[9:])) }

// readAhead is how many queue entries one iterator reads, at most;
// readAheadBudget bounds the entries all active groups of multiple_host
// hold in memory together (about 10 MiB).
const (
	readAhead       = 64
	readAheadBudget = 64 << 10
)

// fill reads up to readAhead entries of q from its cursor on.
func (f *Durable) fill(q *queueState) error {
	it, err := f.iterFrom(q)
	if err != nil {
		return err
	}
	q.buf, q.bufToEnd = q.buf[:0], false
	n := readAhead
	if f.cfg.maxInFlight > 0 {
		// Active groups keep their read-ahead, so share a budget among
		// them: 64 entries each with up to 1,000 active, down to what one
		// dispatch and the head after it need when all of 100k hosts are.
		active := f.active
		if f.slots == 0 {
			active = f.ready.Len()
		}
		n = min(max(readAheadBudget/max(active, 1), f.cfg.maxInFlight+1), readAhead)
	}
	ok := it.First()
	for ; ok && len(q.buf) < n; ok = it.Next() {
		if f.isLeased(it.Key()) {
			continue
		}
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

// isLeased reports whether a queue entry is in flight.
func (f *Durable) isLeased(qkey []byte) bool {
	_, ok := f.leasedQ[string(qkey)]
	return ok
}

// iterFrom returns an iterator over q's entries from its cursor on, valid
// until the next call or Commit. It is one iterator for every queue,
// re-aimed and refreshed to the batch's current state each time: opening
// one per read cost more than the read (with 100k hosts nearly every
// dispatch reads a different queue).
func (f *Durable) iterFrom(q *queueState) (*pebble.Iterator, error) {
	p := queuePrefix(q.id)
	lower := p
	if q.cursor != nil {
		lower = q.cursor
	}
	return f.sharedIter(&f.qit, &pebble.IterOptions{LowerBound: lower, UpperBound: upperBound(p)})
}

// seenIter returns the iterator over the seen set, refreshed to the
// batch's current state, with the Bloom filters of every level.
func (f *Durable) seenIter() (*pebble.Iterator, error) {
	return f.sharedIter(&f.uit, &pebble.IterOptions{LowerBound: []byte{pfxURL}, UpperBound: []byte{pfxURL + 1}, UseL6Filters: true})
}

// sharedIter re-aims the iterator kept in *slot (SetOptions also refreshes
// its view of the batch), or opens it.
func (f *Durable) sharedIter(slot **pebble.Iterator, opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if *slot != nil {
		(*slot).SetOptions(opts)
		return *slot, nil
	}
	it, err := f.b.NewIter(opts)
	if err != nil {
		return nil, err
	}
	*slot = it
	return it, nil
}

// closeIters closes the shared iterators before their batch goes, or
// before the store changes under them (a bulk ingestion).
func (f *Durable) closeIters() error {
	var errs []error
	for _, it := range []**pebble.Iterator{&f.qit, &f.uit, &f.rit} {
		if *it != nil {
			errs = append(errs, (*it).Close())
			*it = nil
		}
	}
	return errors.Join(errs...)
}

type leaseState struct {
	key       urlx.Key
	url       string
	queue     uint64
	deadline  time.Time
	rec       urlRecord // the URL's record as the lease left it
	qkey      []byte    // its queue entry, deleted when the lease ends
	batch     int64     // the lease record that lists it
	scheduled bool      // it was waiting for a revisit (counts as Scheduled again if the master stops)
	// robots is set for the fetch of an origin's robots.txt, which has no
	// record, queue entry or lease record.
	robots *originRobots
	// crawlDelay is the robots.txt Crawl-delay of the URL's host at
	// dispatch: the least pause after its result.
	crawlDelay time.Duration
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
	return binary.BigEndian.AppendUint16(b, r.depth)
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
	switch n := 1 + 18*int(rest[0]); len(rest) {
	case n: // written before depth was kept
	case n + 2:
		r.depth = binary.BigEndian.Uint16(rest[n:])
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

// openDurable opens (or creates) the store under opts.Dir and rebuilds the
// in-memory summaries. Leases found in the store belonged to a master that
// stopped without their results: their URLs are queued again at once.
func openDurable(opts Options, cfg durableConfig) (_ *Durable, err error) {
	if opts.LeaseTimeout <= 0 {
		opts.LeaseTimeout = 90 * time.Second
	}
	// Bloom filters on every level: most lookups are of links never seen,
	// and a filter answers those without reading a block.
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{Logger: newPebbleLogger(opts.Logger), Cache: cache, MemTableSize: 16 << 20}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	dir := opts.Dir
	if dir == "" {
		po.FS = vfs.NewMem()
		dir = "mem"
	}
	po.EnsureDefaults() // the bulk loader writes tables with these options
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
	defer func() {
		if err != nil {
			db.Close()
			lock.unlock()
		}
	}()
	f := &Durable{
		opts: opts, cfg: cfg, db: db, lock: lock, po: po, dir: dir,
		queues: map[uint64]*queueState{}, groups: map[string]*group{},
		leases: map[int64]*leaseState{}, dirty: map[*queueState]struct{}{},
		leasedQ: map[string]int64{}, batches: map[int64]int{},
		robots: map[string]*originRobots{}, hostURLs: map[string]int64{}, hostsCounted: map[string]struct{}{},
		ready:   groupHeap{idx: func(g *group) *int { return &g.readyIdx }},
		pending: groupHeap{idx: func(g *group) *int { return &g.pendIdx }},
	}
	if cfg.slots {
		f.slots = max(opts.ActiveQueues, 0)
		f.selector = BiasedSelect
		if opts.QueueSelector != "" {
			if f.selector, err = selectors.Get(opts.QueueSelector); err != nil {
				return nil, err
			}
		}
	}
	if cfg.byIP && opts.Resolver == nil {
		return nil, errors.New("ip_based queue assignment needs a DNS resolver")
	}
	f.b = db.NewIndexedBatch()
	if err = f.load(time.Now()); err != nil {
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
	var loaded []*queueState
	for it.First(); it.Valid(); it.Next() {
		q, err := decodeQueueRecord(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		f.queues[q.id] = q
		loaded = append(loaded, q)
		f.queueSeq = max(f.queueSeq, q.ordinal+1)
	}
	if err := it.Close(); err != nil {
		return err
	}
	if err := f.loadDelays(); err != nil {
		return err
	}
	for _, q := range loaded {
		if q.queued > 0 {
			if err := f.refreshHead(q); err != nil {
				return err
			}
		}
		f.assign(q, now)
	}
	// Lease records of the previous run: the entries they list that are
	// still stored were in flight at the stop, and are queued again simply
	// by being there. The records go.
	inFlight := 0
	it, err = f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxLease}, UpperBound: []byte{pfxLease + 1}})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		entries, err := decodeLeaseRecord(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		for _, e := range entries {
			if _, closer, err := f.db.Get(e.qkey); err == nil {
				closer.Close()
				inFlight++
			}
		}
		if err := f.b.Delete(append([]byte(nil), it.Key()...), nil); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	if f.nextLease < now.UnixNano() {
		f.nextLease = now.UnixNano() // distinct from any lease a worker may still hold
	}
	for _, q := range loaded {
		f.touch(q, now)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	if inFlight > 0 {
		f.opts.Logger.Info().Int("leases", inFlight).Msg("frontier: URLs in flight at the last stop are queued again")
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
	if len(v) < metaFieldsV3*8 || len(v) > metaFields*8 || len(v)%8 != 0 { // later counters were appended to format 3
		return fmt.Errorf("frontier store: corrupt meta record (%d bytes; written by another version of spyder?)", len(v))
	}
	r := func(i int) int64 { return int64(binary.BigEndian.Uint64(v[8*i:])) }
	f.stats = Stats{Seen: r(0), Queued: r(1), Done: r(2), Failed: r(3), Scheduled: r(6), Retried: r(7)}
	for i, dst := range []*int64{&f.stats.Disallowed, &f.stats.TooDeep, &f.stats.TooMany} {
		if len(v) >= (metaFieldsV3+i+1)*8 {
			*dst = r(metaFieldsV3 + i)
		}
	}
	f.seq, f.nextLease = uint64(r(4)), r(5)
	if r(8) != storeFormat {
		return fmt.Errorf("frontier store: format %d, this spyder reads format %d", r(8), storeFormat)
	}
	return nil
}

func (f *Durable) writeMeta() error { return f.b.Set(metaKey("state"), f.metaRecord(), nil) }

func (f *Durable) metaRecord() []byte {
	v := make([]byte, 0, metaFields*8)
	// Leased URLs are stored as what they were: a restart queues them again.
	for _, n := range []int64{f.stats.Seen, f.stats.Queued + f.leasedQueued, f.stats.Done, f.stats.Failed, int64(f.seq), f.nextLease, f.stats.Scheduled + f.leasedScheduled, f.stats.Retried, storeFormat, f.stats.Disallowed, f.stats.TooDeep, f.stats.TooMany} {
		v = binary.BigEndian.AppendUint64(v, uint64(n))
	}
	return v
}

// The meta record: counters, sequence watermarks and the store format.
const (
	metaFields = 12
	// metaFieldsV3 is the meta record as format 3 began; counters added
	// since are appended, and read when present.
	metaFieldsV3 = 9
	storeFormat  = 3 // 2: queue records carry an ordinal; 3: batched lease records, entries kept until the result
)

// queueRecordHeader is the fixed part of a queue record: politeness clock,
// size, ordinal; the name follows.
const queueRecordHeader = 24

func decodeQueueRecord(k, v []byte) (*queueState, error) {
	if len(k) != 9 || len(v) < queueRecordHeader {
		return nil, errors.New("frontier store: corrupt queue record")
	}
	return &queueState{
		id:           binary.BigEndian.Uint64(k[1:]),
		savedAllowed: fromUnixNano(int64(binary.BigEndian.Uint64(v))),
		queued:       int64(binary.BigEndian.Uint64(v[8:])),
		ordinal:      binary.BigEndian.Uint64(v[16:]),
		name:         string(v[queueRecordHeader:]),
		mIdx:         -1,
	}, nil
}

func (f *Durable) writeQueue(q *queueState) error {
	return f.b.Set(hostKey(q.id), f.queueRecord(q), nil)
}

func (f *Durable) queueRecord(q *queueState) []byte {
	allowed := q.savedAllowed
	if q.grp != nil {
		allowed = q.grp.nextAllowed
	}
	v := make([]byte, 0, queueRecordHeader+len(q.name))
	v = binary.BigEndian.AppendUint64(v, uint64(unixNano(allowed)))
	v = binary.BigEndian.AppendUint64(v, uint64(q.queued+int64(q.leased))) // entries stored
	v = binary.BigEndian.AppendUint64(v, q.ordinal)
	return append(v, q.name...)
}

func (f *Durable) getRecord(k urlx.Key) (urlRecord, error) {
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
	ok := it.First()
	for ok && f.isLeased(it.Key()) {
		ok = it.Next()
	}
	if ok {
		q.headDue = time.Unix(0, int64(binary.BigEndian.Uint64(it.Key()[9:])))
	} else {
		q.queued = 0
	}
	return it.Error()
}

func (f *Durable) queue(name string, now time.Time) *queueState {
	id := queueID(name)
	q := f.queues[id]
	if q == nil {
		q = &queueState{id: id, name: name, ordinal: f.queueSeq, mIdx: -1}
		f.queueSeq++
		f.queues[id] = q
		f.dirty[q] = struct{}{}
		f.assign(q, now)
	}
	return q
}

// assign puts q in its politeness group: its own, or, with IP-based
// assignment, its IP address's once the lookup answers.
func (f *Durable) assign(q *queueState, now time.Time) {
	if !f.cfg.byIP || q.name == "" {
		f.join(q, q.name)
		return
	}
	host := q.name
	f.opts.Resolver.LookupAsync(host, func(ip string, err error) {
		f.resolvedMu.Lock()
		f.resolved = append(f.resolved, resolvedHost{host: host, ip: ip, err: err})
		f.resolvedMu.Unlock()
		if f.opts.Wake != nil {
			f.opts.Wake()
		}
	})
}

// applyResolved moves the queues whose host has been resolved into their
// IP's group. A host that does not resolve keeps a group of its own: its
// URLs are dispatched anyway and the workers report the failure, so the
// retry policy decides and nothing waits forever.
func (f *Durable) applyResolved(now time.Time) {
	if !f.cfg.byIP {
		return
	}
	f.resolvedMu.Lock()
	done := f.resolved
	f.resolved = nil
	f.resolvedMu.Unlock()
	for _, r := range done {
		q := f.queues[queueID(r.host)]
		if q == nil || q.grp != nil {
			continue
		}
		key := "ip " + r.ip
		if r.err != nil {
			f.opts.Logger.Debug().Str("host", r.host).Err(r.err).Msg("frontier: host does not resolve; it gets a politeness group of its own")
			key = "host " + r.host
		}
		f.join(q, key)
		f.touch(q, now)
	}
}

// join makes q a member of the group named key, creating the group.
func (f *Durable) join(q *queueState, key string) {
	g := f.groups[key]
	if g == nil {
		g = newGroup(key, q.ordinal)
		f.groups[key] = g
	}
	q.grp = g
	g.wait(q.savedAllowed)
	if q.blockedUntil.After(g.heldUntil) {
		g.heldUntil = q.blockedUntil
	}
}

// touch brings q's group membership and the group's place up to date
// after q's queue changed.
func (f *Durable) touch(q *queueState, now time.Time) {
	g := q.grp
	if g == nil {
		q.buf, q.bufToEnd = nil, false
		return
	}
	switch {
	case q.queued > 0 && q.mIdx < 0:
		heap.Push(&g.members, q)
	case q.queued > 0:
		heap.Fix(&g.members, q.mIdx)
	case q.mIdx >= 0:
		heap.Remove(&g.members, q.mIdx)
	}
	f.place(g, now)
}

// free reports whether g may have one more URL in flight.
func (f *Durable) free(g *group) bool {
	return g.robotsInFlight == 0 && (f.cfg.maxInFlight == 0 || g.inFlight < f.cfg.maxInFlight)
}

// place puts g where its state says it belongs (see Durable.ready), and
// retires an active group whose budget is spent or that has nothing due.
func (f *Durable) place(g *group, now time.Time) {
	has := len(g.members) > 0
	if has != g.hasURLs {
		g.hasURLs = has
		if has {
			f.withURLs++
		} else {
			f.withURLs--
		}
	}
	if f.slots == 0 {
		g.active = has
	} else if g.active && (g.budget <= 0 || (g.inFlight == 0 && (!has || g.members[0].headDue.After(now)))) {
		f.ready.set(g, false)
		g.active = false
		f.active--
		if g.budget <= 0 && has {
			g.cooling = true
			f.cooling = append(f.cooling, g)
		}
	}
	dispatchable := has && f.free(g)
	f.ready.set(g, g.active && dispatchable)
	waiting := !g.active && dispatchable && !g.cooling && f.slots > 0
	due := waiting && !g.readyAt().After(now)
	f.pending.set(g, waiting && !due)
	if due != g.eligible {
		if due {
			f.eligible.insert(g)
		} else {
			f.eligible.remove(g)
		}
		g.eligible = due
	}
	if !g.active {
		// Read the queues again when the group is active: memory stays
		// bounded by the groups being drained (a few entries each), not by
		// the URLs queued. An active group keeps its read-ahead across the
		// pause between two of its URLs, so that not every dispatch opens
		// an iterator.
		for _, q := range g.members {
			q.buf, q.bufToEnd = nil, false
		}
	}
}

// fillSlots activates waiting groups while there are free slots: first
// those that became due, chosen by the queue selector, then the groups
// rotated out since the last call, so that a spent group gets a new
// budget only when no other group wants its slot.
func (f *Durable) fillSlots(now time.Time) {
	if f.slots == 0 {
		return
	}
	for f.pending.Len() > 0 && !f.pending.top().readyAt().After(now) {
		f.place(f.pending.top(), now) // due now: moves to eligible
	}
	f.offerSlots(now)
	if len(f.cooling) > 0 {
		for _, g := range f.cooling {
			g.cooling = false
			f.place(g, now)
		}
		f.cooling = f.cooling[:0]
		f.offerSlots(now)
	}
}

func (f *Durable) offerSlots(now time.Time) {
	for f.active < f.slots && f.eligible.n > 0 {
		rank := f.selector(f.eligible.n)
		if rank < 0 || rank >= f.eligible.n {
			rank = 0
		}
		g := f.eligible.at(rank)
		g.active, g.budget = true, max(f.opts.QueueBudget, 1)
		f.active++
		f.place(g, now)
	}
}

// enqueue writes the queue entry of a URL record and updates its queue.
func (f *Durable) enqueue(k urlx.Key, rec *urlRecord, q *queueState) error {
	return f.enqueueAt(k, rec, q, rec.queueDue())
}

// enqueueAt is enqueue with the due time the entry sorts under.
func (f *Durable) enqueueAt(k urlx.Key, rec *urlRecord, q *queueState, due int64) error {
	f.seq++
	qk := queueKey(q.id, due, rec.priority, f.seq)
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
	if d := time.Unix(0, due); q.queued == 0 || d.Before(q.headDue) {
		q.headDue = d
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
		if h := urlx.Host(u); h != "" {
			hosts[h] = struct{}{}
		}
	}
	for h := range hosts {
		if err := f.b.Set(append([]byte{pfxSeed}, h...), nil, nil); err != nil {
			return 0, err
		}
	}
	return f.addURLs(urls, now, "seed", 0)
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
	return f.addURLs(urls, now, "link", 1)
}

// addURLs admits urls found depth links away from a seed; deeper than
// Options.MaxDepth they are left out (and counted).
func (f *Durable) addURLs(urls []string, now time.Time, kind string, depth int) (int, error) {
	if len(urls) == 0 {
		return 0, nil
	}
	if f.opts.MaxDepth > 0 && depth > f.opts.MaxDepth {
		f.stats.TooDeep += int64(len(urls))
		return 0, nil
	}
	// The seen-set lookups go through an iterator with Bloom filters on
	// every level: a point Get skips the filters of the bottom level, where
	// most of the seen set lives, and reads a data block for every link
	// never seen. The iterator sees the batch as it is now; URLs repeated
	// within this call are caught by mine.
	it, err := f.seenIter()
	if err != nil {
		return 0, fmt.Errorf("frontier store: %w", err)
	}
	var mine map[urlx.Key]struct{}
	if len(urls) > 1 {
		mine = make(map[urlx.Key]struct{}, len(urls))
	}
	added := 0
	touched := map[*queueState]bool{}

	var uk []byte
	for _, u := range urls {
		k := urlx.KeyOf(u)
		if _, dup := mine[k]; dup {
			continue
		}
		uk = append(append(uk[:0], pfxURL), k[:]...)
		if it.SeekPrefixGE(uk) && bytes.Equal(it.Key(), uk) {
			continue
		}
		if err := it.Error(); err != nil {
			return added, fmt.Errorf("frontier store: %w", err)
		}
		if mine != nil {
			mine[k] = struct{}{}
		}
		host := urlx.Host(u)
		if f.opts.MaxURLsPerHost > 0 {
			ok, err := f.countHostURL(host)
			if err != nil {
				return added, err
			}
			if !ok {
				continue
			}
		}
		q := f.queue(f.cfg.queueOf(host), now)
		rec := newRecord(u, q.id, now, kind)
		rec.depth = uint16(min(depth, 1<<16-1))
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
		f.touch(q, now)
	}
	return added, nil
}

// newURLDue is where URLs never fetched sort in their queue: before every
// known URL, as spyder 0.2.x did with next_date = 10000 ("new URLs are
// preferred over known ones"), in the order they were admitted.
const newURLDue = 10000 * int64(time.Second)

// returnedDue is where a URL whose lease ended without a result (handed
// back, released from a lost worker, expired) sorts: before everything
// else of its queue, new URLs too. It was dispatched once already; sent to
// the end of a long queue it waited for the whole crawl (22-29 s in a
// crawl of the Python docs). Its host's politeness still applies.
const returnedDue = int64(time.Second)

// queueDue is the due time a record is queued under: its own, or, for a
// URL that never had a result and is due, newURLDue.
func (r *urlRecord) queueDue() int64 {
	if r.status == 0 && r.state == stateQueued {
		return min(r.due, newURLDue)
	}
	return r.due
}

// newRecord is the record of a URL just admitted to q.
func newRecord(u string, queue uint64, now time.Time, kind string) urlRecord {
	rec := urlRecord{state: stateQueued, priority: 1, due: now.UnixNano(), queue: queue, url: u}
	kindCode := evAddedLink
	if kind == "seed" {
		kindCode = evAddedSeed
	}
	rec.note(now, kindCode, 0)
	return rec
}

// Next implements Frontier.
func (f *Durable) Next(now time.Time, max int) ([]*crawluri.CrawlUri, error) {
	f.applyResolved(now)
	f.fillSlots(now)
	var out []*crawluri.CrawlUri
	f.batch, f.batchID = f.batch[:0], f.nextLease+1
	for len(out) < max && f.ready.Len() > 0 {
		g := f.ready.top()
		if g.readyAt().After(now) {
			break
		}
		q := g.members[0]
		c, err := f.next(q, now)
		if err != nil {
			return out, errors.Join(err, f.writeBatch())
		}
		if c != nil {
			out = append(out, c)
		}
		f.touch(q, now)
	}
	return out, f.writeBatch()
}

// next dispatches what q offers now: its first URL, or that URL's
// robots.txt, or nothing (robots.txt took the URL out of the crawl, or
// holds the group).
func (f *Durable) next(q *queueState, now time.Time) (*crawluri.CrawlUri, error) {
	head, err := f.peek(q)
	if err != nil {
		return nil, err
	}
	rec, err := decodeURLRecord(head.rec)
	if err != nil {
		return nil, err
	}
	var crawlDelay time.Duration
	if f.opts.ObeyRobots {
		c, dispatch, delay, err := f.robotsCheck(q, rec, now)
		if err != nil || !dispatch {
			return c, err
		}
		crawlDelay = delay
	}
	return f.pop(q, rec, crawlDelay, now)
}

// peek returns the first URL of q, reading ahead if needed.
func (f *Durable) peek(q *queueState) (queueEntry, error) {
	if len(q.buf) == 0 {
		if err := f.fill(q); err != nil {
			return queueEntry{}, err
		}
		if len(q.buf) == 0 {
			n := q.queued
			q.queued = 0
			return queueEntry{}, fmt.Errorf("frontier store: queue %s is empty but counted %d URLs", q.name, n)
		}
	}
	return q.buf[0], nil
}

// take removes the first URL of q from the queue in memory (its entry
// stays in the store until the caller deletes it).
func (f *Durable) take(q *queueState) (queueEntry, error) {
	head, err := f.peek(q)
	if err != nil {
		return head, err
	}
	q.buf = q.buf[1:]
	q.cursor = append(head.key[:len(head.key):len(head.key)], 0) // the next possible key after the one taken
	q.queued--
	if q.queued > 0 {
		if len(q.buf) == 0 && !q.bufToEnd {
			if err := f.fill(q); err != nil {
				return head, err
			}
		}
		if len(q.buf) > 0 {
			q.headDue = time.Unix(0, q.buf[0].due())
		}
	}
	return head, nil
}

// politeAtDispatch starts the group's pause at a dispatch, for frontiers
// that do (single_host): at least crawlDelay, the robots.txt Crawl-delay.
func (f *Durable) politeAtDispatch(q *queueState, crawlDelay time.Duration, now time.Time) {
	if d := max(f.minDelay(q), crawlDelay); f.cfg.delayAfterDispatch && d > 0 {
		q.grp.nextAllowed = now.Add(d)
		f.dirty[q] = struct{}{} // the clock must survive a restart
	}
}

// pop leases the first URL of q, whose record is rec; crawlDelay is its
// host's robots.txt Crawl-delay.
func (f *Durable) pop(q *queueState, rec urlRecord, crawlDelay time.Duration, now time.Time) (*crawluri.CrawlUri, error) {
	head, err := f.take(q)
	if err != nil {
		return nil, err
	}
	k := head.k
	q.leased++
	scheduled := rec.state == stateScheduled
	if scheduled {
		f.stats.Scheduled--
		f.leasedScheduled++
	} else {
		f.stats.Queued--
		f.leasedQueued++
	}
	f.nextLease++
	id := f.nextLease
	deadline := now.Add(f.opts.LeaseTimeout)
	rec.state, rec.lease = stateInFlight, id
	rec.note(now, evDispatched, id) // stored with the result
	f.batch = binary.BigEndian.AppendUint64(f.batch, uint64(id))
	f.batch = append(f.batch, head.key...)
	f.batch = binary.BigEndian.AppendUint64(f.batch, uint64(deadline.UnixNano()))
	f.leases[id] = &leaseState{key: k, url: rec.url, queue: q.id, deadline: deadline, rec: rec, qkey: head.key, batch: f.batchID, scheduled: scheduled, crawlDelay: crawlDelay}
	f.leasedQ[string(head.key)] = id
	q.grp.inFlight++
	f.politeAtDispatch(q, crawlDelay, now)
	c := &crawluri.CrawlUri{URL: rec.url, EffectiveURL: rec.url, CurrentPriority: int16(rec.level), LeaseID: id}
	if strings.Contains(rec.url, "@") {
		// spyder's frontier passed URL credentials to the fetcher this way.
		if u, err := url.Parse(rec.url); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				c.OptionalVars = map[string]string{"username": u.User.Username(), "password": pw}
			}
		}
	}
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

// writeBatch stores the lease record of the Next call in progress.
func (f *Durable) writeBatch() error {
	if len(f.batch) == 0 {
		return nil
	}
	f.batches[f.batchID] = len(f.batch) / leaseEntryLen
	return f.b.Set(leaseKey(f.batchID), f.batch, nil)
}

// NextDue implements Frontier.
func (f *Durable) NextDue(now time.Time) time.Time {
	f.applyResolved(now)
	var due time.Time
	if f.ready.Len() > 0 {
		due = f.ready.top().readyAt()
	}
	if f.active < f.slots {
		if f.eligible.n > 0 || len(f.cooling) > 0 {
			return now
		}
		if f.pending.Len() > 0 && (due.IsZero() || f.pending.top().readyAt().Before(due)) {
			due = f.pending.top().readyAt()
		}
	}
	return due
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
// A robots.txt fetch has no queue entry or lease record: it only frees
// its group.
func (f *Durable) endLease(id int64, l *leaseState) (*queueState, error) {
	delete(f.leases, id)
	if l.robots != nil {
		l.robots.lease = 0
	} else {
		delete(f.leasedQ, string(l.qkey))
		if err := f.b.Delete(l.qkey, nil); err != nil {
			return nil, err
		}
		if n := f.batches[l.batch] - 1; n > 0 {
			f.batches[l.batch] = n
		} else {
			delete(f.batches, l.batch)
			if err := f.b.Delete(leaseKey(l.batch), nil); err != nil {
				return nil, err
			}
		}
		if l.scheduled {
			f.leasedScheduled--
		} else {
			f.leasedQueued--
		}
	}
	q := f.queues[l.queue]
	if q == nil {
		// A lease whose queue record was lost: rebuild the queue from the
		// URL so that the URL is not.
		q = f.queue(f.cfg.queueOf(urlx.Host(l.url)), time.Now())
	}
	if g := q.grp; g != nil {
		g.inFlight = max(g.inFlight-1, 0)
		if l.robots != nil {
			g.robotsInFlight = max(g.robotsInFlight-1, 0)
		}
	}
	if q.leased > 0 && l.robots == nil {
		q.leased--
	}
	f.dirty[q] = struct{}{}
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
// The queue's politeness clock moves by the fetch's duration either way,
// and by at least its host's robots.txt Crawl-delay. The result of a
// robots.txt fetch sets its origin's rules instead (robotsDone).
func (f *Durable) Done(res *crawluri.CrawlUri, links []string, now time.Time) (int, error) {
	l, err := f.lease(res.LeaseID, res.URL)
	if err != nil {
		return 0, err
	}
	if l.robots != nil {
		return 0, f.robotsDone(res.LeaseID, l, res, now)
	}
	q, err := f.endLease(res.LeaseID, l)
	if err != nil {
		return 0, err
	}
	rec := l.rec
	rec.lease, rec.status = 0, res.StatusCode
	status := res.StatusCode
	o := Decide(f.opts, Prior{Attempts: int(rec.attempts), Level: int(rec.level)}, status, res.RepHeader, res.ReqTime, f.minDelay(q), l.crawlDelay, now)
	if g := q.grp; g != nil {
		if !o.HostHeldUntil.IsZero() {
			g.hold(o.HostHeldUntil)
		}
		g.wait(o.HostWaitsUntil)
		g.budget -= o.BudgetCost
	}
	rec.attempts, rec.level = byte(o.Attempts), byte(o.Level)
	if o.NewValidators {
		rec.etag = crawluri.HeaderValue(res.RepHeader, "Etag")
		rec.lastMod = crawluri.HeaderValue(res.RepHeader, "Last-Modified")
	}
	switch o.Fate {
	case FateDone:
		rec.state = stateDone
		f.stats.Done++
	case FateRevisit:
		rec.state, rec.due = stateScheduled, o.Due.UnixNano()
		f.stats.Done++
	case FateRetry:
		rec.state, rec.due = stateQueued, o.Due.UnixNano()
		f.stats.Retried++
	case FateFailed:
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
	f.touch(q, now)
	return f.addURLs(links, now, "link", int(rec.depth)+1)
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
	if l.robots != nil {
		// Nothing to queue: the origin's next URL asks for it again.
		f.touch(q, now)
		return nil
	}
	rec := l.rec
	rec.state, rec.lease, rec.due = stateQueued, 0, now.UnixNano()
	rec.note(now, evLeaseEnded, id)
	if err := f.b.Set(urlKey(l.key), rec.encode(), nil); err != nil {
		return err
	}
	if err := f.enqueueAt(l.key, &rec, q, returnedDue); err != nil {
		return err
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
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
	s.ActiveQueues = int64(f.withURLs)
	if f.slots > 0 {
		s.ActiveQueues = int64(f.active)
	}
	s.WaitingQueues = int64(f.withURLs) - s.ActiveQueues
	return s
}

// Commit implements Frontier: one fsync for everything since the last one.
func (f *Durable) Commit() error {
	if f.broken != nil {
		return f.broken
	}
	for q := range f.dirty {
		if err := f.writeQueue(q); err != nil {
			return err
		}
		delete(f.dirty, q)
	}
	if err := f.writeHostCounts(); err != nil {
		return err
	}
	if f.b.Empty() {
		return nil
	}
	if err := f.writeMeta(); err != nil {
		return err
	}
	if err := f.closeIters(); err != nil {
		return fmt.Errorf("frontier store: %w", err)
	}
	// The batch is applied (visible to the next one) at once; its fsync
	// runs while the caller goes on, and is waited for by the next Commit,
	// which by then rarely waits. The WAL is synced in order, so waiting
	// for one batch waits for all before it.
	// A failed write or fsync leaves the store as of the last commit and
	// this batch unusable: the frontier is broken until reopened.
	if err := f.db.ApplyNoSyncWait(f.b, pebble.Sync); err != nil {
		f.broken = fmt.Errorf("committing frontier state: %w", err)
		return f.broken
	}
	if err := f.waitSynced(); err != nil {
		_ = f.b.SyncWait() // fails too; pebble lets go of the batch only then
		f.broken = err
		return f.broken
	}
	f.syncing = f.b
	f.b = f.db.NewIndexedBatch()
	return nil
}

// Discard drops what was changed since the last Commit: the frontier then
// commits nothing more (Close only closes), and is to be opened again, as
// of its last commit. The master discards a turn whose output could not
// be written.
func (f *Durable) Discard(err error) {
	if f.broken == nil {
		f.broken = fmt.Errorf("frontier changes discarded: %w", err)
	}
}

// waitSynced waits for the fsync of the last committed batch.
func (f *Durable) waitSynced() error {
	if f.syncing == nil {
		return nil
	}
	err := f.syncing.SyncWait()
	f.syncing.Close()
	f.syncing = nil
	if err != nil {
		return fmt.Errorf("syncing frontier state: %w", err)
	}
	return nil
}

// Close implements Frontier: it commits and closes the store. Closing
// again does nothing.
func (f *Durable) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.broken != nil {
		err = f.broken // nothing more can be written; the store keeps its last commit
	} else {
		err = f.Commit()
	}
	if serr := f.waitSynced(); err == nil {
		err = serr
	}
	if cerr := f.closeIters(); err == nil {
		err = cerr
	}
	if f.broken == nil {
		f.b.Close() // (a batch of a failed commit may still be pebble's)
	}
	if cerr := f.db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing frontier store: %w", cerr)
	}
	f.lock.unlock()
	return err
}

// pebbleLogger passes Pebble's errors to the frontier's logger and keeps
// its informational chatter out of the crawl log. An error that repeats
// (a flush retried while the disk is full) is logged once every
// pebbleLogEvery, with the count of the ones left out.
type pebbleLogger struct {
	log zerolog.Logger
	mu  *sync.Mutex
	// last is when each error's text (without its digits: file numbers
	// change) was logged, and how many were left out since.
	last map[string]*pebbleRepeat
}

type pebbleRepeat struct {
	at      time.Time
	skipped int
}

const pebbleLogEvery = 30 * time.Second

func newPebbleLogger(log zerolog.Logger) pebbleLogger {
	return pebbleLogger{log: log, mu: &sync.Mutex{}, last: map[string]*pebbleRepeat{}}
}

func (l pebbleLogger) Infof(string, ...any) {}
func (l pebbleLogger) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	key := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, msg[:min(len(msg), 300)])
	now := time.Now()
	l.mu.Lock()
	r := l.last[key]
	if r != nil && now.Sub(r.at) < pebbleLogEvery {
		r.skipped++
		l.mu.Unlock()
		return
	}
	skipped := 0
	if r != nil {
		skipped = r.skipped
	}
	if len(l.last) > 1000 {
		clear(l.last)
	}
	l.last[key] = &pebbleRepeat{at: now}
	l.mu.Unlock()
	ev := l.log.Error().Str("component", "pebble")
	if skipped > 0 {
		ev = ev.Int("repeats_left_out", skipped)
	}
	ev.Msg(msg)
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
