// metrics.go: the master's Prometheus metrics, from a snapshot the loop
// refreshes.

package master

import (
	"maps"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/metrics"
	"github.com/spyder-crawl/spyder/urlx"
)

// The master's Prometheus metrics. Counters and gauges come from a
// snapshot of the loop's own state that the loop publishes every
// metricsEvery: a scrape runs on another goroutine and must not touch
// state the loop owns, and the loop must not pay per event for metrics it
// already counts. Latency histograms are observed directly (lock-free).

// metricsEvery is how often the loop refreshes the snapshot.
const metricsEvery = 100 * time.Millisecond

type masterMetrics struct {
	fetch  prometheus.Histogram // ReqTime of every result
	commit prometheus.Histogram // duration of every group commit
	snap   atomic.Pointer[metricsSnapshot]
	next   time.Time
	// blocked is counted seldom (it walks every host): nextBlocked.
	blocked     int64
	nextBlocked time.Time
}

// blockedEvery is how often the held queues are counted.
const blockedEvery = 2 * time.Second

type metricsSnapshot struct {
	fs                                                          frontier.Stats
	dispatched, results, expired, released, unclaimed, returned int64
	linksNew, linksCut, sinkErrors, sitemapErrors, advanced     int64
	linksLeftOut                                                map[string]int64
	byClass, drops                                              map[string]int64
	liveWorkers                                                 int
	blocked                                                     int64
	paused, storeFailed                                         bool
	// A crawl several masters share: the partitions this one holds, the
	// masters alive, dispatches no replica confirmed.
	shared              bool
	partitions, masters int
	unreplicated        int64
}

func newMasterMetrics(reg prometheus.Registerer) *masterMetrics {
	mm := &masterMetrics{
		fetch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spyder_master_fetch_duration_seconds",
			Help: "Request time of the fetches whose results the master applied, as the workers measured it.", Buckets: metrics.FetchBuckets}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spyder_master_store_commit_duration_seconds",
			Help: "Duration of the frontier store's group commits (one per loop turn that changed anything).", Buckets: metrics.CommitBuckets}),
	}
	mm.snap.Store(&metricsSnapshot{})
	reg.MustRegister(mm.fetch, mm.commit, mm)
	return mm
}

// publish refreshes the snapshot when it is due.
func (mm *masterMetrics) publish(m *Master, now time.Time, force bool) {
	if mm == nil || (!force && now.Before(mm.next)) {
		return
	}
	mm.next = now.Add(metricsEvery)
	if !m.store.down() && !now.Before(mm.nextBlocked) {
		mm.blocked, mm.nextBlocked = m.frontier.BlockedQueues(now), now.Add(blockedEvery)
	}
	snap := &metricsSnapshot{
		fs: m.frontierStats(), dispatched: m.stats.dispatched, results: m.stats.results,
		expired: m.stats.expired, released: m.stats.released, unclaimed: m.stats.unclaimed, returned: m.stats.returned,
		linksNew: m.stats.linksNew, linksLeftOut: maps.Clone(m.stats.linksLeftOut), linksCut: m.stats.linksCut, sinkErrors: m.stats.sinkErrors, sitemapErrors: m.stats.sitemapErrors, advanced: m.stats.revisitsAdvanced,
		byClass: m.stats.classes(), drops: m.drops(), liveWorkers: m.registry.Live(), paused: m.mode == modePaused, storeFailed: m.store.down(),
		blocked: mm.blocked,
	}
	if rs := m.shared(); rs != nil {
		snap.shared, snap.partitions, snap.masters, snap.unreplicated = true, len(rs.Owned()), rs.Masters(), rs.Unreplicated()
	}
	mm.snap.Store(snap)
}

var (
	descURLs          = prometheus.NewDesc("spyder_frontier_urls", "URLs the frontier knows, by state (queued: waiting for a first fetch or a retry; scheduled: waiting for a revisit).", []string{"state"}, nil)
	descSeen          = prometheus.NewDesc("spyder_frontier_urls_seen", "Distinct URLs ever admitted.", nil, nil)
	descHostQueues    = prometheus.NewDesc("spyder_frontier_host_queues", "Politeness queues (hosts, or IP addresses) with URLs: active ones dispatch, waiting ones wait for a slot (frontier_active_queues), blocked ones are held beyond politeness (Retry-After, spyder host --block-for, a robots.txt being retried; counted every 2 s).", []string{"state"}, nil)
	descDispatched    = prometheus.NewDesc("spyder_master_dispatched_total", "URLs sent to workers.", nil, nil)
	descResults       = prometheus.NewDesc("spyder_master_results_total", "Results applied, by status class (other: 810, unknown codes); robots.txt verdicts are spyder_frontier_urls{state=\"disallowed\"}.", []string{"class"}, nil)
	descLeases        = prometheus.NewDesc("spyder_master_leases_ended_total", "Leases that ended without a result: expired (deadline passed), released (their worker was lost), unclaimed (no worker listed them within two heartbeats of their dispatch), returned (handed back unfetched).", []string{"reason"}, nil)
	descDrops         = prometheus.NewDesc("spyder_master_dropped_messages_total", "Messages dropped, by reason (undecodable, stale results, strangers, ...).", []string{"reason"}, nil)
	descLinks         = prometheus.NewDesc("spyder_master_links_total", "Links reported by workers: new (admitted, never seen), out_of_scope, invalid, too_long (max_url_length), denied_extension (deny_extensions), too_deep (max_depth), over_host_cap (max_urls_per_host), over_page_cap (max_links_per_page).", []string{"kind"}, nil)
	descSitemapErrors = prometheus.NewDesc("spyder_master_sitemap_errors_total", "Sitemaps read in part or not at all: bad XML, over sitemap_max_size (a gzip bomb), over sitemap_max_urls, cut at max_content_length.", nil, nil)
	descAdvanced      = prometheus.NewDesc("spyder_master_revisits_advanced_total", "Revisits brought forward to now because a sitemap's <lastmod> was after the page's last fetch.", nil, nil)
	descSinkErrors    = prometheus.NewDesc("spyder_master_sink_errors_total", "Results a sink failed to write (re-routed as 710).", nil, nil)
	descWorkers       = prometheus.NewDesc("spyder_master_workers_live", "Workers that count towards dispatch credit.", nil, nil)
	descPaused        = prometheus.NewDesc("spyder_master_paused", "1 while an operator has paused dispatch.", nil, nil)
	descStore         = prometheus.NewDesc("spyder_master_store_failed", "1 while the frontier store cannot be written (state_dir full or failing): dispatch stopped until it reopens.", nil, nil)
	// Only with frontier_store redis.
	descPartitions   = prometheus.NewDesc("spyder_master_partitions_owned", "Partitions of the shared crawl this master dispatches (frontier_store redis).", nil, nil)
	descMasters      = prometheus.NewDesc("spyder_master_masters_alive", "Masters of the shared crawl alive, this one included (frontier_store redis).", nil, nil)
	descUnreplicated = prometheus.NewDesc("spyder_master_unreplicated_dispatches_total", "Dispatch calls whose writes no replica confirmed in time (WAIT; frontier_store redis): a failover then could let a host be asked again early.", nil, nil)
)

// Describe implements prometheus.Collector.
func (mm *masterMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descURLs, descSeen, descHostQueues, descDispatched, descResults, descLeases, descDrops, descLinks, descSinkErrors, descSitemapErrors, descAdvanced, descWorkers, descPaused, descStore, descPartitions, descMasters, descUnreplicated} {
		ch <- d
	}
}

// Collect implements prometheus.Collector from the latest snapshot.
func (mm *masterMetrics) Collect(ch chan<- prometheus.Metric) {
	s := mm.snap.Load()
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for state, n := range map[string]int64{"queued": s.fs.Queued, "scheduled": s.fs.Scheduled, "in_flight": s.fs.InFlight,
		"done": s.fs.Done, "failed": s.fs.Failed, "disallowed": s.fs.Disallowed} {
		gauge(descURLs, n, state)
	}
	gauge(descSeen, s.fs.Seen)
	gauge(descHostQueues, s.fs.ActiveQueues, "active")
	gauge(descHostQueues, s.fs.WaitingQueues, "waiting")
	gauge(descHostQueues, s.blocked, "blocked")
	counter(descDispatched, s.dispatched)
	for class, n := range s.byClass {
		counter(descResults, n, class)
	}
	counter(descLeases, s.expired, "expired")
	counter(descLeases, s.released-s.unclaimed, "released")
	counter(descLeases, s.unclaimed, "unclaimed")
	counter(descLeases, s.returned, "returned")
	for reason, n := range s.drops {
		counter(descDrops, n, reason)
	}
	counter(descLinks, s.linksNew, "new")
	for _, reason := range []string{urlx.ReasonOutOfScope, urlx.ReasonInvalid, urlx.ReasonTooLong, urlx.ReasonDenied} {
		counter(descLinks, s.linksLeftOut[reason], reason)
	}
	counter(descLinks, s.fs.TooDeep, "too_deep")
	counter(descLinks, s.fs.TooMany, "over_host_cap")
	counter(descLinks, s.linksCut, "over_page_cap")
	counter(descSinkErrors, s.sinkErrors)
	counter(descSitemapErrors, s.sitemapErrors)
	counter(descAdvanced, s.advanced)
	gauge(descWorkers, int64(s.liveWorkers))
	if s.shared {
		gauge(descPartitions, int64(s.partitions))
		gauge(descMasters, int64(s.masters))
		counter(descUnreplicated, s.unreplicated)
	}
	flag := func(d *prometheus.Desc, on bool) {
		v := int64(0)
		if on {
			v = 1
		}
		gauge(d, v)
	}
	flag(descPaused, s.paused)
	flag(descStore, s.storeFailed)
}
