// store.go: the Store interface: what a frontier store keeps and does,
// without deciding anything about a result; and Leased, what it tells the
// policy about a lease.

package frontier

import (
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// Store is a frontier's state and the operations on it: the seen set, the
// queues by due time, the politeness clock of every host (or IP, or the
// whole crawl), leases, robots.txt rules, per-host controls and counts.
// It decides nothing about a result: the crawl policy (Decide and
// DecideRobots, applied by the Frontier that Open returns) hands it the
// outcome to apply, so that a second store implements this interface and
// crawls by the same policy without copying it. The Pebble store (Durable)
// is the first. A Store is used by one goroutine.
//
// Besides the methods of Frontier it shares (AddSeeds, SeedHosts, Next,
// Decided, NextDue, Release, Expire, Commit, Discard, SetHostDelay,
// PolitenessScope, BlockHost, Stats, BlockedQueues, Close), with the same
// contracts, a store has:
type Store interface {
	// Admit adds the URLs never seen before, found as d says (its Depth
	// in links from a seed; with Options.KeepDiscovery, the page and hop
	// path that led to them, kept with each URL for its Leased), and
	// returns how many were new. URLs deeper than Options.MaxDepth, or
	// beyond their host's Options.MaxURLsPerHost, are left out and
	// counted (Stats.TooDeep, Stats.TooMany).
	Admit(urls []string, d Discovery, now time.Time) (added int, err error)

	// Lease returns what the policy needs to decide on the result of an
	// outstanding lease; an error wrapping ErrStaleLease when (lease, url)
	// is not one (url "" matches any URL).
	Lease(lease int64, url string) (Leased, error)

	// Settle ends a lease with the policy's outcome for its result res:
	// the URL's record (state, attempts, revisit level, validators when
	// o.NewValidators), its next due time, the host's politeness clock,
	// hold and budget. Its links are admitted apart, by Admit.
	Settle(lease int64, o Outcome, res *crawluri.CrawlUri, now time.Time) error

	// SettleRobots ends the lease of a robots.txt fetch: the origin's
	// rules become f.Rules, and the host waits until f.HostWaitsUntil
	// (and is held until f.Rules.RetryAt when f.Retrying).
	SettleRobots(lease int64, f RobotsFetched, now time.Time) error

	AddSeeds(urls []string, now time.Time) (added int, err error)
	SeedHosts() ([]string, error)
	Next(now time.Time, max int) ([]*crawluri.CrawlUri, error)
	Decided() []*crawluri.CrawlUri
	NextDue(now time.Time) time.Time
	Release(lease int64, now time.Time) error
	ReturnUnsent(lease int64, now time.Time) error
	Expire(now time.Time) ([]Expired, error)
	Commit() error
	Discard(err error)
	SetHostDelay(host string, d time.Duration, now time.Time) error
	PolitenessScope(host string) string
	BlockHost(host string, until, now time.Time) error
	Stats() Stats
	BlockedQueues(now time.Time) int64
	Close() error
}

// Leased is what a store tells the policy about a lease.
type Leased struct {
	URL   string
	Depth int // links away from a seed
	// Via and HopPath: how the URL was found (Discovery), when kept.
	Via, HopPath string
	Prior        Prior // the URL's retries and revisit level so far
	// MinDelay is the least delay between two requests to the URL's
	// politeness queue (Options.MinDelay, or an operator's SetHostDelay).
	MinDelay time.Duration
	// CrawlDelay is the robots.txt Crawl-delay of the URL's origin at
	// dispatch (capped): the least pause after its result.
	CrawlDelay time.Duration
	// Robots: the lease is the fetch of an origin's robots.txt (URL), not
	// a URL of the crawl; RobotsRules are that origin's rules so far.
	Robots      bool
	RobotsRules RobotsRules
}

// Discovery is how URLs were found: Depth links from a seed, on page Via,
// by the hops of HopPath (Heritrix's discovery path: L a link, R a
// redirect, M a sitemap or robots.txt's Sitemap: line; "" a seed), the
// last of them the hop to these URLs.
type Discovery struct {
	Depth        int
	Via, HopPath string
}

// Hop types of a hop path.
const (
	HopLink     = 'L'
	HopRedirect = 'R'
	HopManifest = 'M' // a sitemap, or robots.txt's Sitemap: lines
)

// maxHopPath bounds the hops a URL keeps: the last ones.
const maxHopPath = 50

// Next is the discovery of URLs found from a page found as d, by hop.
func (d Discovery) Next(via string, hop byte) Discovery {
	path := d.HopPath + string(hop)
	if len(path) > maxHopPath {
		path = path[len(path)-maxHopPath:]
	}
	return Discovery{Depth: d.Depth + 1, Via: via, HopPath: path}
}
