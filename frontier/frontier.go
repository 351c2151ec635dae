// Package frontier decides what is crawled and when: it admits URLs (each one
// once), orders them by due time, spaces requests politely, hands them out for
// dispatch, and applies each result's outcome.
//
// It is cut in two, as Heritrix keeps its DispositionProcessor apart from
// the queues and url-frontier its service from its storage backends:
//
//   - the crawl policy (policy.go, policy_robots.go): plain functions over
//     plain values that decide what a result means for its URL and its host
//     (retries, back-off, revisits, Retry-After, politeness delays,
//     robots.txt), tested with tables;
//   - the Store (store.go), which keeps the state and applies the policy's
//     outcomes. The Pebble store, Durable, is the first (durable.go and the
//     files by operation: keys, load, queues, admit, dispatch, result,
//     robots, hostctl, bulk, inspect).
//
// The Frontier that Open returns (crawl.go) is the policy over a store.
// Frontiers register under a name (the frontier_class setting) from an init
// function, as database/sql drivers do, and the master opens one by name. A
// Frontier is owned by the master's event loop and need not be safe for
// concurrent use.
package frontier

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/registry"
)

// WholeCrawl is the politeness scope of every host of single_host.
const WholeCrawl = "*"

// Frontier is the crawl state the master feeds workers from.
type Frontier interface {
	// Add admits URLs that were never seen before and returns how many were
	// new. URLs must already be normalized (see Normalize).
	Add(urls []string, now time.Time) (added int, err error)

	// AddSeeds is Add for seeds: their hosts are also remembered, durably,
	// as the crawl's default scope.
	AddSeeds(urls []string, now time.Time) (added int, err error)

	// SeedHosts lists the hosts of every seed ever added.
	SeedHosts() ([]string, error)

	// Next returns up to max URLs that may be fetched at now, each under a
	// new lease (CrawlUri.LeaseID), and applies politeness. It returns none
	// when nothing is due.
	Next(now time.Time, max int) ([]*crawluri.CrawlUri, error)

	// Decided returns, and forgets, the URLs that Next took out of the
	// crawl without dispatching them since the last call: robots.txt
	// disallows them (status 910), or the host's robots.txt could not be
	// fetched (911). Their outcome is recorded; the caller hands them to
	// its sinks.
	Decided() []*crawluri.CrawlUri

	// NextDue is the earliest moment at which Next may return a URL, or the
	// zero time when nothing is queued.
	NextDue(now time.Time) time.Time

	// Done applies the result of a leased URL (its status decides the
	// outcome) and admits the links found on it, in one step. It returns how
	// many links were new. A result whose (LeaseID, URL) is not an
	// outstanding lease is an error wrapping ErrStaleLease and changes
	// nothing: results are applied exactly once.
	Done(res *crawluri.CrawlUri, links []string, now time.Time) (added int, err error)

	// Release ends a lease without an outcome and queues its URL again (the
	// worker handed it back, or was lost).
	Release(lease int64, now time.Time) error

	// ReturnUnsent ends a lease whose URL never left the master (no worker
	// could take it): the URL is queued again first, and its host's
	// politeness clock is as the lease found it. (Release makes the host
	// wait a whole delay: its URL may be being fetched.)
	ReturnUnsent(lease int64, now time.Time) error

	// Expire queues again the URLs whose lease deadline has passed and
	// returns them.
	Expire(now time.Time) ([]Expired, error)

	// Commit writes everything changed since the last Commit (a group
	// commit; the master calls it once per turn of its loop). It is durable
	// when the next Commit or Close returns: the fsync of one turn
	// overlaps the next turn's work. Nothing is acknowledged to anyone in
	// between, and a kill -9 before the fsync loses only results, whose URLs
	// are then fetched again.
	Commit() error

	// SetHostDelay sets the least time between two requests to host's
	// politeness queue (the whole crawl for single_host), replacing
	// Options.MinDelay for it; a negative d goes back to the default. It
	// survives restarts.
	SetHostDelay(host string, d time.Duration, now time.Time) error

	// PolitenessScope names the politeness queue host belongs to: host
	// itself, or WholeCrawl when one clock paces the whole crawl
	// (single_host), so that a change to "a host" can say what it acts on.
	PolitenessScope(host string) string

	// BlockHost dispatches nothing more of host's politeness queue before
	// until (a zero or past time lifts nothing earlier: politeness still
	// applies). It survives restarts.
	BlockHost(host string, until, now time.Time) error

	// Discard drops what was changed since the last Commit: the frontier
	// then commits nothing more (Close only closes) and is to be opened
	// again, as of its last commit. The master discards a turn whose
	// output could not be written.
	Discard(err error)

	// Stats counts URLs by state.
	Stats() Stats

	// BlockedQueues counts the politeness queues with URLs that are held
	// beyond politeness at now: by a Retry-After, an operator's block, or
	// a robots.txt being retried. It may walk every queue: call it seldom.
	BlockedQueues(now time.Time) int64

	// Close flushes and releases the frontier's resources.
	Close() error
}

// Stats counts the URLs a frontier knows, by state.
type Stats struct {
	Seen      int64 // distinct URLs ever admitted
	Queued    int64 // waiting for a first fetch or a retry (due now or later)
	Scheduled int64 // fetched, waiting for a revisit
	InFlight  int64 // leased, no result yet
	Done      int64 // results with a 2xx or 3xx outcome (a revisit counts again)
	Failed    int64 // recorded as failed: 4xx, or 5xx/transport errors past the retries
	Retried   int64 // results that were queued again for a retry
	// Disallowed counts URLs recorded without a fetch because of
	// robots.txt (statuses 910 and 911; not counted in Failed).
	Disallowed int64
	// TooDeep counts links left out for being more than Options.MaxDepth
	// links away from a seed.
	TooDeep int64
	// TooMany counts URLs left out because their host had
	// Options.MaxURLsPerHost already.
	TooMany int64
	// ActiveQueues and WaitingQueues count the politeness queues (hosts,
	// or IP addresses) with URLs: active ones dispatch, waiting ones wait
	// for a slot (multiple_host's frontier_active_queues).
	ActiveQueues, WaitingQueues int64
}

// Expired is a lease that ran out, its URL queued again.
type Expired struct {
	Lease int64
	URL   string
}

// Idle reports whether nothing is queued or in flight: a batch crawl is over.
func (s Stats) Idle() bool { return s.Queued == 0 && s.InFlight == 0 }

// Options configures a frontier. The master builds it from its settings.
type Options struct {
	// KeepDiscovery keeps with each URL the page it was found on and its
	// hop path (Leased.Via, HopPath), for the crawl log.
	KeepDiscovery bool
	// MinDelay is the least time between two requests to one host.
	MinDelay time.Duration
	// CrawlDelayFactor scales a fetch's duration into the delay before the
	// next request to its host: max(factor x request time, MinDelay).
	CrawlDelayFactor float64
	// MaxRetries is how often a URL answered with 5xx, 429 or a transport
	// error is tried again before it is recorded as failed.
	MaxRetries int
	// RetryBackoff is the wait before the first retry; it doubles with
	// each further retry.
	RetryBackoff time.Duration
	// MaxRetryAfter caps how long a host's Retry-After (429, 503) holds it.
	MaxRetryAfter time.Duration
	// CrawlDelta is the revisit interval per level (spyder's
	// SimpleTimestampPrioritizer): a page is fetched again CrawlDelta x level
	// after a fetch; each 304 raises its level, a change resets it to 1.
	// Zero turns revisits off.
	CrawlDelta time.Duration
	// NumPriorities caps the revisit level.
	NumPriorities int
	// ActiveQueues is how many politeness groups (hosts, or IP addresses)
	// multiple_host lets dispatch at once (spyder's FRONTIER_ACTIVE_QUEUES);
	// 0 lets every group with URLs dispatch.
	ActiveQueues int
	// QueueBudget is what an activated group may spend before it is rotated
	// out for a waiting one: each result costs 1, a 5xx or transport error
	// QueueBudgetPunish.
	QueueBudget       int
	QueueBudgetPunish int
	// QueueSelector names the registered QueueSelector that picks which
	// waiting group takes a free slot ("biased" when empty).
	QueueSelector string
	// QueueAssignment is "host_based" (a group per host, the default) or
	// "ip_based" (a group per IP address, resolved by Resolver).
	QueueAssignment string
	// Resolver looks host names up without blocking, for ip_based.
	Resolver Resolver
	// Wake is called from another goroutine when something the frontier
	// was waiting for (a DNS answer) arrived; the owner's loop should call
	// NextDue or Next soon.
	Wake func()
	// ObeyRobots fetches each origin's robots.txt before its other URLs
	// and keeps to it (RFC 9309): disallowed URLs are recorded without a
	// fetch, Crawl-delay raises the host's pause. See robots.go.
	ObeyRobots bool
	// RobotsAgent is the product token whose robots.txt group applies
	// ("spyder"); "*" groups apply when no group names it.
	RobotsAgent string
	// RobotsTTL is how long an origin's rules are used before its
	// robots.txt is fetched again.
	RobotsTTL time.Duration
	// MaxCrawlDelay caps a robots.txt Crawl-delay; 0 ignores Crawl-delay.
	MaxCrawlDelay time.Duration
	// MaxURLsPerHost bounds the URLs admitted per host (0: no bound); the
	// last stop for a trap that makes unique URLs within the other bounds.
	// (URLs of `frontier inject` are not counted.)
	MaxURLsPerHost int64
	// MaxDepth bounds how many links away from a seed a URL may be (a
	// crawler trap such as an endless calendar ends there); 0: no bound.
	MaxDepth int
	// Dir is the state directory of a durable frontier; empty keeps the
	// state in memory (tests).
	Dir string
	// CacheSize is the store's block cache in bytes (DefaultCacheSize when
	// 0): a fixed part of the master's memory, not growing with the crawl.
	CacheSize int64
	// LeaseTimeout is how long a dispatched URL may stay without a result.
	LeaseTimeout time.Duration
	// Logger receives the frontier's own log events.
	Logger zerolog.Logger
}

// DefaultCacheSize is the block cache of the store when Options.CacheSize
// is 0.
const DefaultCacheSize = 64 << 20

// Resolver resolves host names for IP-based queue assignment. LookupAsync
// calls done with the host's IP address, or an error, either at once or
// later from another goroutine; it must not block.
type Resolver interface {
	LookupAsync(host string, done func(ip string, err error))
}

// Factory opens a frontier.
type Factory func(opts Options) (Frontier, error)

var frontiers = registry.New[Factory]("frontier")

// Register makes a frontier available under name (the frontier_class
// setting). It panics if name is taken or factory is nil, since both are
// programming errors found at start-up.
func Register(name string, factory Factory) { frontiers.Register(name, factory) }

// Names lists the registered frontiers, sorted.
func Names() []string { return frontiers.Names() }

// Registered reports whether name is a registered frontier.
func Registered(name string) bool {
	_, ok := frontiers.Lookup(name)
	return ok
}

// Open opens the frontier registered as name.
func Open(name string, opts Options) (Frontier, error) {
	factory, err := frontiers.Get(name)
	if err != nil {
		return nil, err
	}
	f, err := factory(opts)
	if err != nil {
		return nil, fmt.Errorf("opening frontier %q: %w", name, err)
	}
	return f, nil
}

// maxReqTime caps the request time politeness is computed from: the value
// comes from a worker, and a hostile or broken one must not be able to
// block a host for years (or overflow the arithmetic with NaN or Inf).
const maxReqTime = 10 * time.Minute
