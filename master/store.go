// store.go: the frontier store's health. A failed commit stops dispatch
// and drops results; the store is opened again in the background, from its
// last commit, until it is back. The options the master opens its frontier
// with are built here too, since a reopen uses the same.

package master

import (
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/frontier/redisstore"
	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/settings"
)

// storeRetry is how often a failed frontier store is opened again.
const storeRetry = 2 * time.Second

// storeSpace is the free space state_dir needs before a reopen is tried
// (closing a store whose flush cannot be written waits until it can, in
// the reopen's goroutine).
const storeSpace = 1 << 20

// storeGuard is the frontier store's health. While err is set the store is
// down: no dispatch, results dropped (their URLs are leased in the store
// and queued again when it reopens), a reopen tried every storeRetry.
type storeGuard struct {
	class string           // the frontier_class it was opened as
	opts  frontier.Options // what it was opened with; a reopen uses them

	err        error
	stats      frontier.Stats // the frontier's counts when it failed
	tries      int
	logged     time.Time // last SPYDER:STORE_FAILED at error level
	nextReopen time.Time
	reopening  chan reopened // a reopen in flight, see reopenStore
}

// down reports whether the store failed and is not back yet.
func (g *storeGuard) down() bool { return g.err != nil }

// reopened is the outcome of a reopen of the frontier store.
type reopened struct {
	f   frontier.Frontier
	err error
}

// frontierOptions are the frontier's options from the settings.
func frontierOptions(s *settings.Settings, dns *dnscache.Cache, wake func(), log zerolog.Logger) frontier.Options {
	var resolver frontier.Resolver
	if dns != nil {
		resolver = dns
	}
	return frontier.Options{
		Dir:               s.StateDir,
		LeaseTimeout:      s.MasterLeaseTimeout,
		MaxRetries:        s.FrontierMaxRetries,
		RetryBackoff:      s.FrontierRetryBackoff,
		MaxRetryAfter:     s.FrontierMaxRetryAfter,
		CrawlDelta:        s.PrioritizerCrawlDelta,
		NumPriorities:     s.PrioritizerNumPriorities,
		MinDelay:          s.FrontierMinDelay,
		CrawlDelayFactor:  s.FrontierCrawlDelayFactor,
		ActiveQueues:      s.FrontierActiveQueues,
		QueueBudget:       s.FrontierQueueBudget,
		QueueBudgetPunish: s.FrontierQueueBudgetPunish,
		QueueSelector:     s.QueueSelectorClass,
		QueueAssignment:   s.QueueAssignmentClass,
		Resolver:          resolver,
		Wake:              wake,
		CacheSize:         s.FrontierCacheSize,
		ObeyRobots:        s.ObeyRobotsTxt,
		KeepDiscovery:     s.OutputCrawlLog != "", // (the crawl log's hop path and via)
		RobotsAgent:       s.RobotsUserAgent,
		RobotsTTL:         s.RobotsTxtTTL,
		MaxCrawlDelay:     s.RobotsMaxCrawlDelay,
		MaxDepth:          s.MaxDepth,
		MaxURLsPerHost:    s.MaxURLsPerHost,
		Logger:            log.With().Str("component", "frontier").Logger(),
	}
}

// openFrontier opens the frontier the settings name: the Pebble store of
// frontier_class, or the Redis store (frontier_store: redis) under the
// same crawl policy.
func (m *Master) openFrontier() (frontier.Frontier, error) {
	if m.s.FrontierStore != "redis" {
		return frontier.Open(m.store.class, m.store.opts)
	}
	rs, err := redisstore.Open(m.store.opts, redisConfig(m.s, m.id, m.endpoints))
	if err != nil {
		return nil, err
	}
	return frontier.Over(rs, m.store.opts), nil
}

// redisConfig is the Redis store's configuration from the settings; id
// names this master among the crawl's masters, endpoints are what it
// publishes in their directory (empty until its sockets are bound).
func redisConfig(s *settings.Settings, id, endpoints string) redisstore.Config {
	return redisstore.Config{
		Addrs: s.FrontierRedisAddrs, Username: s.FrontierRedisUsername, Password: s.FrontierRedisPassword,
		Crawl: s.FrontierRedisCrawl, Partitions: s.FrontierRedisPartitions, SeenBuckets: s.FrontierRedisSeenBuckets,
		Master: id, Endpoints: endpoints, WaitReplicas: s.FrontierRedisWaitReplicas, OwnershipTTL: s.FrontierRedisOwnershipTTL,
	}
}

// watchStore is the loop's first step: it takes the outcome of a reopen
// in flight, or starts the next one when it is due.
func (m *Master) watchStore(now time.Time) {
	switch {
	case m.store.reopening != nil:
		m.storeReopened(false)
	case m.store.down() && !now.Before(m.store.nextReopen):
		m.reopenStore(now)
	}
}

// storeFailed handles a failed commit: with a state_dir the master stops
// dispatching and keeps trying to open the store again (it holds
// everything up to its last commit); an in-memory frontier is fatal.
func (m *Master) storeFailed(err error, now time.Time) error {
	if m.s.StateDir == "" && m.s.FrontierStore != "redis" {
		return err // in memory (it says what failed: the commit, or the output)
	}
	m.frontier.Discard(err) // what this turn changed must not be committed now
	g := &m.store
	g.stats = m.frontier.Stats()
	g.err, g.tries = err, 0
	g.nextReopen = now.Add(storeRetry)
	ev := m.log.Error()
	if now.Sub(g.logged) < time.Minute {
		ev = m.log.Debug() // failing again right after a reopen: said a moment ago
	} else {
		g.logged = now
	}
	ev.Stringer("event", events.StoreFailed).Err(err).Str("state_dir", m.s.StateDir).Dur("retry_every", storeRetry).
		Msg("the frontier store or the output cannot be written (disk full or failing?): dispatch stopped and results dropped until both are back; the store keeps everything up to its last commit, and what was in flight is fetched again")
	return nil
}

// reopenStore tries, in a goroutine (closing the failed store may wait for
// its flush), to close the failed store and open it again: the state of its
// last commit, with the leases of then queued again. It starts only when
// state_dir has room; storeReopened takes the outcome.
func (m *Master) reopenStore(now time.Time) {
	g := &m.store
	g.nextReopen = now.Add(storeRetry)
	if free, err := freeSpace(m.s.StateDir); err == nil && free < storeSpace {
		m.stillDown().Uint64("free_bytes", free).Msg("the frontier store is still down: state_dir has no room yet")
		return
	}
	for _, sink := range m.sinks {
		if r, ok := sink.(Reopener); ok {
			if err := r.Reopen(); err != nil {
				m.log.Warn().Err(err).Msg("an output cannot be reopened yet; still trying")
				return
			}
		}
	}
	old, done := m.frontier, make(chan reopened, 1)
	g.reopening = done
	go func() {
		_ = old.Close() // reports the failure again; a second Close does nothing
		f, err := m.openFrontier()
		done <- reopened{f, err}
		m.wake()
	}()
}

// storeReopened takes the outcome of a reopen, when there is one (wait:
// waits for it).
func (m *Master) storeReopened(wait bool) {
	g := &m.store
	var r reopened
	if wait {
		r = <-g.reopening
	} else {
		select {
		case r = <-g.reopening:
		default:
			return
		}
	}
	g.reopening = nil
	if r.err != nil {
		m.stillDown().Err(r.err).Msg("the frontier store cannot be opened yet; still trying")
		return
	}
	m.frontier, g.err = r.f, nil
	clear(m.outstanding)
	fs := r.f.Stats()
	m.log.Info().Stringer("event", events.StoreResumed).Int64("queued", fs.Queued).Int64("seen", fs.Seen).
		Msg("the frontier store is back (as of its last commit, leases of then queued again); dispatch resumed")
}

// stillDown counts a failed try to bring the store back and returns a
// warning for every 30th (once a minute at storeRetry), a disabled event
// for the others.
func (m *Master) stillDown() *zerolog.Event {
	m.store.tries++
	if m.store.tries%30 != 1 {
		return nil // zerolog: a nil event logs nothing
	}
	return m.log.Warn().Int("tries", m.store.tries).Str("state_dir", m.s.StateDir)
}

// freeSpace is the room left for an unprivileged writer in dir.
func freeSpace(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// frontierStats are the frontier's counts; while its store is down, those
// of the moment it failed (the frontier may be closing or reopening).
func (m *Master) frontierStats() frontier.Stats {
	if m.store.down() {
		return m.store.stats
	}
	return m.frontier.Stats()
}
