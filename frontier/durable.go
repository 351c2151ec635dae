// durable.go: the Pebble store (Durable): its type, its registration as
// single_host and multiple_host under the crawl policy, opening, committing
// and closing.

package frontier

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

// ErrStaleLease is wrapped by Done and Release for a lease that is not
// outstanding (late, duplicate or forged), or that belongs to another URL.
var ErrStaleLease = errors.New("lease is not outstanding")

func init() {
	Register("single_host", func(opts Options) (Frontier, error) {
		return openCrawl(opts, durableConfig{
			queueOf:            func(string) string { return WholeCrawl },
			delayAfterDispatch: true,
		})
	})
	Register("multiple_host", func(opts Options) (Frontier, error) {
		return openCrawl(opts, durableConfig{
			queueOf:            func(host string) string { return host },
			maxInFlight:        1,
			delayAfterDispatch: true,
			slots:              true,
			byIP:               opts.QueueAssignment == "ip_based",
		})
	})
}

// openCrawl opens the Pebble store under the crawl policy.
func openCrawl(opts Options, cfg durableConfig) (Frontier, error) {
	d, err := openDurable(opts, cfg)
	if err != nil {
		return nil, err
	}
	return &crawl{Store: d, opts: d.opts}, nil
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

// Durable is the Pebble store: a Store whose state survives kill -9.
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
	seen    *seenCache       // keys known to be in the seen set (seen.go)
	filter  *seenFilter      // keys certainly not in it (seenfilter.go)
	lock    *dirLock
	// dirty queues get their record written once, at Commit.
	dirty map[*queueState]struct{}

	queues queueTable
	// unjoined holds the politeness clocks (unix ns) of the queues not in
	// a group yet (IP-based assignment, while their host is looked up),
	// which join applies; a queue in a group has its group's.
	unjoined map[*queueState]int64
	held     heldGroups
	names    nameArena // of the queues
	// groups holds the groups of IP-based assignment by key; a host-based
	// group is allocated with its queue and found through it (ownGroup).
	groups map[string]*group
	// Queues and groups live as long as the frontier, one per host: they
	// are allocated in chunks (a broad crawl has millions).
	queueSlab slab[queueState]
	groupSlab slab[group]
	ownSlab   slab[ownGroup]
	leases    map[int64]*leaseState
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

	bulkGen uint64 // bulk loads so far
	// format is the store's format as opened: a format 3 store is
	// upgraded to storeFormat by the load's commit.
	format    int64
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
	headDue int64 // unix ns due time of the first queued URL (valid if queued > 0)
	// grp is its politeness group: with host-based assignment the one
	// allocated with it (allocQueue); with IP-based assignment nil while
	// its IP is being resolved.
	grp    *group
	leased int32 // entries of the queue in flight (still stored)
	mIdx   int32 // in grp.members, -1 if not
	// ctl holds an operator's delay and block (hostctl.go); nil for the
	// hosts nobody set one on, nearly all of them.
	ctl *hostControl
	// rd is how the queue is read while it is drained; nil for the queues
	// never read since the start, nearly all of them on a broad crawl.
	// One pointer instead of its fields (56 bytes) keeps every idle host
	// 48 bytes smaller (a million idle hosts are the master's footprint).
	rd *queueReader
}

// queueReader is the state of reading one queue from the store.
type queueReader struct {
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

// buffered is q's read-ahead.
func (q *queueState) buffered() []queueEntry {
	if q.rd == nil {
		return nil
	}
	return q.rd.buf
}

// reader is q's read state, made on first use.
func (q *queueState) reader() *queueReader {
	if q.rd == nil {
		q.rd = new(queueReader)
	}
	return q.rd
}

// dropBuffer forgets q's read-ahead (the store has it); the cursor stays
// while there is one.
func (q *queueState) dropBuffer() {
	if q.rd == nil {
		return
	}
	if q.rd.cursor == nil {
		q.rd = nil
		return
	}
	q.rd.buf, q.rd.bufToEnd = nil, false
}

type queueEntry struct {
	key []byte // the 'Q' key
	k   urlx.Key
	rec []byte // the URL's record as it was queued
}

func (e queueEntry) due() int64 { return queueKeyDue(e.key) }

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
	// clockBefore and clockSet: the group's politeness clock before and
	// after the dispatch moved it (frontiers that pause at a dispatch),
	// for a lease returned unsent; clockSet is zero when it did not.
	clockBefore, clockSet int64 // unix ns
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
		groups: map[string]*group{},
		leases: map[int64]*leaseState{}, dirty: map[*queueState]struct{}{}, unjoined: map[*queueState]int64{},
		leasedQ: map[string]int64{}, batches: map[int64]int{}, seen: newSeenCache(seenCacheGeneration), filter: newSeenFilter(),
		robots: map[string]*originRobots{}, hostURLs: map[string]int64{}, hostsCounted: map[string]struct{}{},
		ready:   groupHeap{idx: func(g *group) *int32 { return &g.readyIdx }},
		pending: groupHeap{idx: func(g *group) *int32 { return &g.pendIdx }},
	}
	f.queues.at = f.queueAt
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

// The meta record: counters, sequence watermarks and the store format.
const (
	metaFields = 12
	// metaFieldsV3 is the meta record as format 3 began; counters added
	// since are appended, and read when present.
	metaFieldsV3 = 9
	storeFormat  = 4 // 2: queue records carry an ordinal; 3: batched lease records, entries kept until the result; 4: queue records carry their head's due time
)

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
	f.filter.stop() // its snapshot must be closed before the store
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
