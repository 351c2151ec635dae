// Package master is the spyder master process: it binds the data and
// management sockets, keeps the registry of live workers, feeds them URLs
// from the frontier under a lease each, applies their results (frontier
// first, then sinks), and shuts down gracefully on request.
//
// One goroutine, the loop in Run, owns every socket and all crawl state;
// everything else reaches it through the waker. The shape follows nsqd: an
// options struct, one loop that owns the state, shutdown through a channel.
package master

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/metrics"
	"github.com/spyder-crawl/spyder/internal/warcfile"
	"github.com/spyder-crawl/spyder/internal/zsock"
	"github.com/spyder-crawl/spyder/mgmt"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

// ErrUncleanShutdown is returned by Run when the shutdown grace period ran
// out before every worker acknowledged the quit and every result came in.
var ErrUncleanShutdown = errors.New("shutdown was not clean")

// Options configures a Master.
type Options struct {
	Settings *settings.Settings
	// Identity is the master's identity on the bus ("master:<host>:<pid>").
	Identity string
	Logger   zerolog.Logger
	// UntilDone makes the master shut down (and quit its workers) as soon as
	// nothing is queued or in flight.
	UntilDone bool
	// Paused starts the master with dispatch paused, as after `spyder
	// pause`: workers can connect and an operator can check them (and
	// inject URLs) before a resume lets the first URL go.
	Paused bool
}

// Master is one master process's coordinator. Its fields are grouped by
// concern; each group's code lives in the file named beside it.
type Master struct {
	s    *settings.Settings
	id   string
	log  zerolog.Logger
	opts Options
	mode mode // running, paused or draining (mode.go)

	// The crawl: the frontier, the gate of every URL it admits, the
	// outputs (results.go, sink.go).
	frontier  frontier.Frontier
	gate      *urlx.Gate // canonical form, length and scope of seeds and links
	sinks     []Sink
	unflushed bool // results went to sinks since their last flush
	omitBody  bool // no sink reads bodies: workers leave them out (BodyNeeder)
	capture   bool // a sink wants the exchanges as recorded on the wire (WireRecorder)
	// wantDigest: a sink writes payload digests (digestWanter): every URL
	// asks its worker for one (crawluri.VarWantDigest).
	wantDigest bool
	// archiveDir: the workers write WARC records there (warc_writer
	// worker; "": they write none).
	archiveDir string
	// dedup: the WARC captures of payloads go to the workers and are kept
	// (warc_dedup not off); payloads: the index of every payload written,
	// with warc_dedup any (dedup.go).
	// cookies is the crawl's cookie jar (cookies.go; nil: cookies off).
	cookies   *cookieJar
	dedup     bool
	payloads  *warcfile.PayloadIndex
	unindexed map[string]string // payload digest: capture line, of this turn's results (checkCapture)
	// dns resolves hosts for ip_based queue assignment (nil otherwise).
	dns *dnscache.Cache
	// store is the frontier store's health (store.go).
	store storeGuard

	// Dispatch (dispatch.go): the leases handed out by this master, with
	// the worker that reported holding each (empty until a heartbeat
	// does); pushFull until the PUSH socket is writable again.
	outstanding map[int64]*outstandingLease
	pushFull    bool

	// Workers (workers.go, mgmt.go): the registry of live workers, the
	// ones asked to quit one by one (quit-worker: quit on their own topic
	// every 250 ms until their quit.ack), the acknowledgements.
	registry *workerRegistry
	quitting map[string]bool
	quitAcks []string
	// mgmtBehind: the last read of the management socket stopped at its
	// budget, not at its end.
	mgmtBehind bool

	// The loop (loop.go): the waker, and wakeable, which is waker once the
	// loop runs (goroutines of the frontier, DNS answers, wake it).
	waker *zsock.Waker
	// dash is the dashboard served on metrics_listen; nil without it.
	dash     *dashboard
	wakeable atomic.Pointer[zsock.Waker]
	timers   []*timer
	// quits sends quit to the workers asked to (draining: all of them).
	quits *timer
	// committedDispatched is stats.dispatched at the last commit.
	committedDispatched int64
	// lastCommit is when the last turn with changes committed them;
	// commitWaiting says a later turn's changes wait for commitEvery.
	lastCommit    time.Time
	commitWaiting bool

	// The shutdown (shutdown.go).
	drainEnd  time.Time
	endReason string   // why the crawl stopped (beginDrain's reason)
	summary   *Summary // once stopped

	// Counts and reports (stats.go, report.go, metrics.go). metrics is
	// nil unless metrics_listen is set.
	stats      counters
	badSeeds   int64
	started    time.Time
	rate       rateWindow
	peakRate   float64 // results per second, the highest 10 s average
	lastReport struct {
		at      time.Time
		results int64
		bytes   int64
	}
	metrics    *masterMetrics
	metricsReg *prometheus.Registry

	// Operators' control (control.go): the answers to recent request IDs,
	// oldest first in replyOrder.
	replies    map[string]mgmt.Reply
	replyOrder []string

	// CURVE (curve_server_secret_key; revoke.go): the master's key pair
	// and the keys it accepts; auth answers ZAP in the zmq context of Run.
	// All nil without CURVE. workerKeys maps a worker's identity to the
	// CURVE key its messages came with, so that revoking the key ends
	// that worker.
	curveKeys  *curve.Pair
	allowed    *curve.AllowList
	auth       *curve.Server
	workerKeys map[string]string
	// endpoints are this master's, as published in a shared crawl's
	// directory (shared.go); leaving: it drains alone, the crawl's other
	// masters go on (no quit to the workers).
	endpoints     string
	leaving       bool
	nextScopeSync time.Time
}

// New opens the frontier and the configured sinks.
func New(opts Options) (*Master, error) {
	s := opts.Settings
	if err := CheckSettings(s); err != nil {
		return nil, err
	}
	scope, err := urlx.NewScope(s.RegexScopePositive, s.RegexScopeNegative)
	if err != nil {
		return nil, err
	}
	m := &Master{
		s:           s,
		id:          opts.Identity,
		log:         opts.Logger,
		opts:        opts,
		gate:        &urlx.Gate{MaxLen: s.MaxURLLength, Scope: scope, DenyExtensions: urlx.ExtensionSet(s.DenyExtensions)},
		registry:    newWorkerRegistry(s.HeartbeatTimeout()),
		stats:       counters{drops: map[string]int64{}, linksLeftOut: map[string]int64{}},
		outstanding: map[int64]*outstandingLease{},
		workerKeys:  map[string]string{},
		replies:     map[string]mgmt.Reply{},
		quitting:    map[string]bool{},
	}
	if s.CurveServerSecretKey != "" {
		pair, err := curve.SecretKey("curve_server_secret_key", s.CurveServerSecretKey)
		if err != nil {
			return nil, err
		}
		if m.allowed, err = curve.LoadAllowList(s.CurveAllowedWorkers, m.log); err != nil {
			return nil, err
		}
		m.curveKeys = &pair
	}
	if m.gate.Canon, err = urlx.ParseCanonicalization(s.URLCanonicalization); err != nil {
		return nil, fmt.Errorf("url_canonicalization: %w", err)
	}
	if s.QueueAssignmentClass == "ip_based" {
		static, err := dnscache.ParseStatic(s.StaticDNSMappings)
		if err != nil {
			return nil, err
		}
		m.dns = dnscache.New(dnscache.Options{Static: static, Size: s.SizeDNSCache})
	}
	m.store.class, m.store.opts = s.FrontierClass, frontierOptions(s, m.dns, m.wake, opts.Logger)
	if m.frontier, err = m.openFrontier(); err != nil {
		if m.dns != nil {
			m.dns.Close()
		}
		return nil, err
	}
	if opts.Paused {
		m.mode = modePaused
	}
	m.liftOldStop()
	// The default scope is the hosts of every seed ever added, also by an
	// earlier run or by `spyder frontier inject`.
	hosts, err := m.frontier.SeedHosts()
	if err != nil {
		m.closeState()
		return nil, fmt.Errorf("reading the seed hosts: %w", err)
	}
	m.gate.Scope.AddHosts(hosts)
	if s.Cookies {
		keep, _ := frontier.Cookies(m.frontier)
		var n int
		if m.cookies, n, err = newCookieJar(keep, time.Now()); err != nil {
			m.closeState()
			return nil, err
		}
		if n > 0 {
			m.log.Info().Int("cookies", n).Msg("cookies of the crawl's sites loaded: their sessions go on")
		}
	}
	// Opening a large store makes garbage of about the size of what it
	// keeps (a million hosts: ~400 MB), which the GC would hold on to as
	// headroom for a crawl that needs little: give it back now.
	debug.FreeOSMemory()
	if s.MetricsListen != "" {
		m.metricsReg = metrics.NewRegistry()
		m.metrics = newMasterMetrics(m.metricsReg)
		if m.dash, err = newDashboard(s.DashboardActions, m.wake); err != nil {
			m.closeState()
			return nil, err
		}
	}
	if m.sinks, err = openSinks(s); err != nil {
		m.closeState()
		return nil, err
	}
	for _, sink := range m.sinks {
		if l, ok := sink.(logTaker); ok {
			l.setLogger(m.log)
		}
	}
	return m, nil
}

// Run binds the sockets, runs the seeding callback and coordinates the crawl
// until ctx is cancelled (or, with UntilDone, until the crawl is over); then
// it drains: no more dispatch, quit to every worker, results still applied,
// until every worker acknowledged and nothing is in flight or
// master_shutdown_grace ran out. Sinks and frontier are closed on return.
// A drain that ran out of time returns an error wrapping ErrUncleanShutdown.
func (m *Master) Run(ctx context.Context) (err error) {
	defer func() {
		if cerr := m.closeState(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return zsock.InContext(func(zctx *zmq.Context) error { return m.run(ctx, zctx) })
}

// run is Run in the zmq context zctx.
func (m *Master) run(ctx context.Context, zctx *zmq.Context) error {
	socks, err := m.bind(zctx)
	if err != nil {
		return err
	}
	m.advertise(socks)
	m.waker, err = zsock.NewWaker(zctx)
	if err != nil {
		socks.close()
		return err
	}
	m.wakeable.Store(m.waker)
	defer func() {
		m.wakeable.Store(nil)
		m.waker.Close()
		socks.close()
	}()
	stop := context.AfterFunc(ctx, m.waker.Wake)
	defer stop()
	if m.metrics != nil {
		srv, err := metrics.Listen(m.s.MetricsListen, m.metricsReg, m.dash.routes())
		if err != nil {
			return fmt.Errorf("%w: %v", settings.ErrInvalid, err) // exit 2: the setting names a port that is taken
		}
		defer srv.Close()
		m.log.Info().Str("event", "metrics").Str("addr", srv.Addr()).Str("dashboard", "http://"+srv.Addr()+"/").
			Msg("serving Prometheus metrics at /metrics and the crawl dashboard at /")
		if m.dash.actions {
			m.log.Info().Str("event", "dashboard.token").Str("token", m.dash.token).
				Msg("dashboard actions are on (dashboard_actions): they need this token (the page asks for it; scripts send Authorization: Bearer TOKEN)")
		}
	}

	if name := m.s.MasterCallback; name != "" {
		cb, err := callbacks.Get(name)
		if err != nil {
			return err
		}
		setup := &Setup{Settings: m.s, Logger: m.log.With().Str("callback", name).Logger(), m: m}
		if err := cb(ctx, setup); err != nil {
			return fmt.Errorf("master_callback %s: %w", name, err)
		}
	}
	// The sinks are all known now (a callback may have added one).
	m.omitBody = omitBodies(m.sinks)
	m.capture = anySink(m.sinks, WireRecorder.WantsWire)
	m.wantDigest = anySink(m.sinks, digestWanter.wantsDigest)
	m.dedup = m.s.WARCWrittenBy() != "" && m.s.WARCDedup != settings.DedupOff
	m.payloads, m.unindexed = payloadIndexOf(m.sinks), map[string]string{}
	if m.s.WARCWrittenBy() == settings.WARCByWorkers {
		// Absolute: a worker on this machine runs in a directory of its own.
		dir, err := filepath.Abs(m.s.OutputWARCDir)
		if err != nil {
			return fmt.Errorf("output_warc_dir: %w", err)
		}
		m.archiveDir = dir
	}
	fs := m.frontierStats()
	if m.opts.UntilDone && fs.Idle() {
		m.nothingToCrawl(fs)
		return nil
	}
	ev := m.log.Info().Stringer("event", events.MasterReady).Str("master", m.id).
		Str("push", m.s.ZeromqMasterPush).Str("sub", m.s.ZeromqMasterSub).
		Str("mgmt_pub", m.s.ZeromqMgmtMaster).Str("mgmt_sub", m.s.ZeromqMgmtWorker).
		Str("frontier", m.s.FrontierClass).Int64("queued", fs.Queued).Bool("paused", m.mode == modePaused).
		Bool("bodies", !m.omitBody).Bool("wire", m.capture).Str("warc_by_workers", m.archiveDir)
	if m.gate.Scope.HostBased() {
		// The first ones: a broad crawl's scope is millions of hosts.
		ev = ev.Strs("scope_hosts", m.gate.Scope.FirstSeedHosts(readyScopeHosts)).Int("scope_hosts_total", m.gate.Scope.SeedHostCount())
	}
	ev.Msg("master started")
	return m.loop(ctx, socks)
}

// readyScopeHosts is how many of the scope's hosts the ready event lists.
const readyScopeHosts = 20

// wake interrupts the loop's poll from any goroutine; before the loop runs
// it does nothing (the loop looks at everything when it starts).
func (m *Master) wake() {
	if w := m.wakeable.Load(); w != nil {
		w.Wake()
	}
}

// closeState closes what New opened: the DNS cache, the sinks, the
// frontier (the reopened one, when a reopen was in flight).
func (m *Master) closeState() error {
	var errs []error
	if m.store.reopening != nil {
		m.storeReopened(true) // the frontier to close is the reopened one
	}
	if m.dns != nil {
		m.dns.Close()
	}
	for _, sink := range m.sinks {
		if err := sink.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.frontier.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing frontier: %w", err))
	}
	return errors.Join(errs...)
}
