// migrate.go: a stopped crawl's state in a form no store owns (snapshots
// of URLs, hosts, robots.txt rules), so that `spyder frontier migrate`
// moves a crawl from one store to another: a crawl that outgrows one
// machine goes on in Redis without starting over, and back.

package frontier

import (
	"errors"
	"fmt"
	"time"
)

// The URL states every store keeps, as URLSnapshot.State has them (the
// Pebble store's numbering, which the Redis library shares).
const (
	URLQueued    = stateQueued    // waiting for its first fetch, or a retry
	URLDone      = stateDone      // fetched, not to be revisited
	URLFailed    = stateFailed    // failed past the retries, or ruled out by robots.txt
	URLScheduled = stateScheduled // fetched, queued again for a revisit
)

// The kinds of Event, as every store records them.
const (
	EventAddedSeed  = evAddedSeed
	EventAddedLink  = evAddedLink
	EventDispatched = evDispatched
	EventResult     = evResult
)

// URLInFlight is the state an EventDispatched leaves a URL in.
const URLInFlight = stateInFlight

// URLSnapshot is one URL of a stopped crawl.
type URLSnapshot struct {
	URL   string
	State byte // URLQueued, URLDone, URLFailed or URLScheduled
	// Status is the last status (0: never fetched); Attempts the fetches
	// that failed in a row; Level the revisit level.
	Status   int16
	Attempts int
	Level    int
	Depth    int // links followed from a seed
	Seed     bool
	// Due is when a queued or scheduled URL may be fetched (zero: now).
	// Returned: its lease ended without a result (it was in flight when
	// the crawl stopped); it goes first in its queue again.
	Due      time.Time
	Returned bool
	// ETag and LastModified are the validators of the last 2xx, for a
	// conditional revisit.
	ETag, LastModified string
	// WARCCapture is the WARC capture of the last archived payload.
	WARCCapture string
	// Via and HopPath: how the URL was found, when kept (Discovery).
	Via, HopPath string
	History      []Event // the latest events, oldest first
}

// Event is one step in a URL's life (the kinds and states of the
// stores' histories; DescribeEvent names them).
type Event struct {
	At    time.Time
	Value int64 // the lease, or the status
	Kind  byte
	State byte // the URL's state after the event
}

// Queued reports whether the URL is waiting to be fetched (again).
func (u *URLSnapshot) Queued() bool { return u.State == URLQueued || u.State == URLScheduled }

// Fetched reports whether the URL had a result.
func (u *URLSnapshot) Fetched() bool { return u.Status != 0 || u.State != URLQueued || u.Attempts > 0 }

// HostSnapshot is one host's politeness state.
type HostSnapshot struct {
	Host string
	// NextAllowed is the host's politeness clock; HeldUntil a hold beyond
	// it (an operator's block, Retry-After, a robots.txt being retried).
	NextAllowed, HeldUntil time.Time
	// Delay is an operator's least delay for the host; HasDelay says
	// there is one (else the crawl's frontier_min_delay).
	Delay    time.Duration
	HasDelay bool
	// Admitted counts the URLs admitted for the host (max_urls_per_host).
	Admitted int64
}

// Sink takes a stopped crawl's state into a store. Seed hosts, hosts,
// robots.txt rules and counters come before the URLs, and each host's
// queued URLs in queue order (first to be fetched first); Close makes it
// durable. A Sink refuses to write into a store that holds a crawl.
type Sink interface {
	SeedHosts(hosts []string) error
	Host(h HostSnapshot) error
	Robots(origin string, rules RobotsRules) error
	// Cookie carries one entry of the crawl's cookies (CookieKeeper).
	Cookie(key, value string) error
	// Counters carries what cannot be recounted from the URLs: Done,
	// Failed, Retried, Disallowed, TooDeep and TooMany.
	Counters(st Stats) error
	URL(u *URLSnapshot) error
	Close() error
}

// A Source is a stopped crawl opened for a migration (and kept from
// starting until closed).
type Source interface {
	// Dump reads the crawl out into a Sink, in the order Sink documents.
	Dump(Sink) (DumpInfo, error)
	Close() error
}

// DumpInfo is what a Source tells of itself.
type DumpInfo struct {
	// Seen is the source's own count of distinct URLs.
	Seen int64
	// Orphans are seen-set entries whose URL could not be read back (a
	// store may keep a URL only as a fingerprint until its first
	// result); they cannot be moved.
	Orphans int64
}

// Migrated counts what a migration moved.
type Migrated struct {
	URLs, Queued, Scheduled, Returned, Done, Failed int64
	Hosts, Robots, SeedHosts, Cookies               int64
	Source                                          DumpInfo
}

// counting is a Sink that counts what passes to the next one.
type counting struct {
	Sink
	m *Migrated
}

func (c counting) SeedHosts(hosts []string) error {
	c.m.SeedHosts += int64(len(hosts))
	return c.Sink.SeedHosts(hosts)
}

func (c counting) Host(h HostSnapshot) error { c.m.Hosts++; return c.Sink.Host(h) }

func (c counting) Cookie(key, value string) error {
	c.m.Cookies++
	return c.Sink.Cookie(key, value)
}

func (c counting) Robots(origin string, r RobotsRules) error {
	c.m.Robots++
	return c.Sink.Robots(origin, r)
}

func (c counting) URL(u *URLSnapshot) error {
	c.m.URLs++
	switch {
	case u.Returned:
		c.m.Returned++
	case u.State == URLQueued:
		c.m.Queued++
	case u.State == URLScheduled:
		c.m.Scheduled++
	case u.State == URLDone:
		c.m.Done++
	default:
		c.m.Failed++
	}
	return c.Sink.URL(u)
}

// ErrMigrateIncomplete is wrapped when a migration read fewer URLs than
// the source says it has seen: the target is left as written, and the
// source as it was.
var ErrMigrateIncomplete = errors.New("migration incomplete")

// Migrate moves what from holds into to, and closes to. It fails when
// the URLs read (with orphans) fall short of the source's own count of
// URLs seen: nothing may be left behind silently.
func Migrate(from Source, to Sink) (Migrated, error) {
	var m Migrated
	var err error
	m.Source, err = from.Dump(counting{Sink: to, m: &m})
	if cerr := to.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the target store: %w", cerr)
	}
	if err != nil {
		return m, err
	}
	if m.URLs+m.Source.Orphans < m.Source.Seen {
		return m, fmt.Errorf("%w: the source counts %d URLs seen, %d were read (%d without a URL to move)", ErrMigrateIncomplete, m.Source.Seen, m.URLs+m.Source.Orphans, m.Source.Orphans)
	}
	return m, nil
}
