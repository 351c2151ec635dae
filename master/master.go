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
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/internal/metrics"
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
	// Frontier overrides the frontier named by frontier_class (tests,
	// embedding); the master closes it.
	Frontier frontier.Frontier
}

// Master is one master process's coordinator.
type Master struct {
	s        *settings.Settings
	id       string
	log      zerolog.Logger
	opts     Options
	frontier frontier.Frontier
	gate     *urlx.Gate // canonical form, length and scope of seeds and links
	sinks    []Sink
	registry *workerRegistry

	waker *zsock.Waker
	// wakeable is waker once the loop runs: goroutines of the frontier
	// (DNS answers) wake the loop through it.
	wakeable atomic.Pointer[zsock.Waker]
	// dns resolves hosts for ip_based queue assignment (nil otherwise).
	dns *dnscache.Cache
	// outstanding are the leases handed out by this master, with the
	// worker that reported holding each (empty until a heartbeat does).
	outstanding map[int64]*outstandingLease

	state      state
	drainEnd   time.Time
	nextQuit   time.Time
	pushFull   bool
	unflushed  bool // results went to sinks since their last flush
	badSeeds   int64
	quitAcks   []string
	stats      counters
	lastReport struct {
		at      time.Time
		results int64
		bytes   int64
	}
	peakRate float64 // results per second, the highest 10 s average
	// mgmtBehind: the last read of the management socket stopped at its
	// budget, not at its end.
	mgmtBehind bool
	endReason  string   // why the crawl stopped (beginDrain's reason)
	summary    *Summary // once stopped
	// Operators' control (control.go): paused stops dispatch; replies
	// remember the answers to recent request IDs, oldest first in
	// replyOrder.
	paused     bool
	started    time.Time
	rate       rateWindow
	replies    map[string]mgmt.Reply
	replyOrder []string
	// quitting are workers asked to quit one by one (quit-worker): they
	// get quit on their own topic every 250 ms until their quit.ack.
	quitting map[string]bool

	// metrics is nil unless metrics_listen is set (metrics.go).
	metrics    *masterMetrics
	metricsReg *prometheus.Registry

	// frontierOpts opened the frontier (unless Options.Frontier gave one):
	// after a failed commit (a full or failing state_dir) the store is
	// opened again with them. storeErr is that failure until then: no
	// dispatch, results dropped (their URLs are leased in the store and
	// queued again when it reopens), a reopen tried at nextReopen.
	frontierOpts frontier.Options
	storeErr     error
	storeStats   frontier.Stats
	storeTries   int
	storeLogged  time.Time // last SPYDER:STORE_FAILED at error level
	nextReopen   time.Time
	reopening    chan reopened // a reopen in flight, see reopenStore

	// CURVE (curve_server_secret_key): the master's key pair and the keys
	// it accepts; auth answers ZAP in the zmq context of Run. All nil
	// without CURVE.
	curveKeys *curve.Pair
	allowed   *curve.AllowList
	auth      *curve.Server
	// workerKeys maps a worker's identity to the CURVE key its messages
	// came with, so that revoking the key ends that worker (revoke.go).
	workerKeys map[string]string
}

type state int

const (
	running state = iota
	draining
)

type outstandingLease struct {
	at     time.Time
	url    string
	worker string // the live worker that listed it in a heartbeat, or ""
}

// classes names the non-zero result counts by status class.
func (c *counters) classes() map[string]int64 {
	out := map[string]int64{}
	for i, n := range c.byClass {
		if n == 0 {
			continue
		}
		name := "other"
		if i > 0 {
			name = fmt.Sprintf("%dxx", i)
		}
		out[name] = n
	}
	return out
}

type counters struct {
	dispatched int64
	results    int64
	byClass    [10]int64 // by crawluri.StatusClass
	bytes      int64     // of the bodies of results
	returned   int64
	released   int64 // leases of lost workers, or claimed by none, queued again
	unclaimed  int64 // of those: no worker listed them within two heartbeats
	expired    int64
	linksNew   int64
	sinkErrors int64
	// linksLeftOut counts the links the gate refused, by urlx.Reason.
	linksLeftOut map[string]int64
	linksCut     int64            // links beyond max_links_per_page in one result
	drops        map[string]int64 // messages dropped, by reason
}

// New opens the frontier and the configured sinks.
func New(opts Options) (*Master, error) {
	s := opts.Settings
	scope, err := urlx.NewScope(s.RegexScopePositive, s.RegexScopeNegative)
	if err != nil {
		return nil, err
	}
	m := &Master{
		s:           s,
		id:          opts.Identity,
		log:         opts.Logger,
		opts:        opts,
		gate:        &urlx.Gate{MaxLen: s.MaxURLLength, Scope: scope},
		registry:    newWorkerRegistry(s.HeartbeatTimeout()),
		stats:       counters{drops: map[string]int64{}, linksLeftOut: map[string]int64{}},
		outstanding: map[int64]*outstandingLease{},
		workerKeys:  map[string]string{},
		replies:     map[string]mgmt.Reply{},
		quitting:    map[string]bool{},
		paused:      opts.Paused,
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
	m.frontier = opts.Frontier
	if m.frontier == nil {
		var resolver frontier.Resolver
		if s.QueueAssignmentClass == "ip_based" {
			static, err := dnscache.ParseStatic(s.StaticDNSMappings)
			if err != nil {
				return nil, err
			}
			m.dns = dnscache.New(dnscache.Options{Static: static, Size: s.SizeDNSCache})
			resolver = m.dns
		}
		m.frontierOpts = frontier.Options{
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
			Wake:              m.wake,
			CacheSize:         s.FrontierCacheSize,
			ObeyRobots:        s.ObeyRobotsTxt,
			RobotsAgent:       s.RobotsUserAgent,
			RobotsTTL:         s.RobotsTxtTTL,
			MaxCrawlDelay:     s.RobotsMaxCrawlDelay,
			MaxDepth:          s.MaxDepth,
			MaxURLsPerHost:    s.MaxURLsPerHost,
			Logger:            opts.Logger.With().Str("component", "frontier").Logger(),
		}
		m.frontier, err = frontier.Open(s.FrontierClass, m.frontierOpts)
		if err != nil {
			if m.dns != nil {
				m.dns.Close()
			}
			return nil, err
		}
	}
	// The default scope is the hosts of every seed ever added, also by an
	// earlier run or by `spyder frontier inject`.
	hosts, err := m.frontier.SeedHosts()
	if err != nil {
		m.closeState()
		return nil, fmt.Errorf("reading the seed hosts: %w", err)
	}
	for _, h := range hosts {
		m.gate.Scope.AddHost(h)
	}
	if s.MetricsListen != "" {
		m.metricsReg = metrics.NewRegistry()
		m.metrics = newMasterMetrics(m.metricsReg)
	}
	if s.OutputJSONL != "" {
		sink, err := NewJSONLSink(s.OutputJSONL)
		if err != nil {
			m.closeState()
			return nil, err
		}
		m.sinks = append(m.sinks, sink)
	}
	if s.OutputWARCDir != "" {
		sink, err := NewWARCSink(WARCOptions{Dir: s.OutputWARCDir, Prefix: s.WARCPrefix, MaxFileSize: s.WARCMaxFileSize, Software: "spyder"})
		if err != nil {
			m.closeState()
			return nil, err
		}
		m.sinks = append(m.sinks, sink)
	}
	return m, nil
}

type sockets struct {
	push, sub, mpub, msub *zmq.Socket
	// bound lists each socket with the endpoint it was asked to bind and
	// the one it bound (a wildcard resolved), for rebind.
	bound []boundSocket
}

type boundSocket struct {
	so              *zmq.Socket
	endpoint, bound string
}

func (m *Master) bind(zctx *zmq.Context) (*sockets, error) {
	s := m.s
	var socks sockets
	if m.curveKeys != nil {
		// The ZAP handler first: a CURVE socket bound without one accepts
		// any key.
		var err error
		if m.auth, err = curve.StartServer(zctx, *m.curveKeys, m.allowed, m.log); err != nil {
			return nil, err
		}
	}
	closeAll := func() {
		for _, so := range []*zmq.Socket{socks.push, socks.sub, socks.mpub, socks.msub} {
			if so != nil {
				so.Close()
			}
		}
	}
	steps := []struct {
		dst      **zmq.Socket
		typ      zmq.Type
		linger   time.Duration
		key      string
		endpoint string
		setup    func(*zmq.Socket) error
	}{
		{&socks.push, zmq.PUSH, 0, "zeromq_master_push", s.ZeromqMasterPush, func(so *zmq.Socket) error { return so.SetSndhwm(s.ZeromqMasterPushHWM) }},
		{&socks.sub, zmq.SUB, 0, "zeromq_master_sub", s.ZeromqMasterSub, func(so *zmq.Socket) error {
			// Per peer: a worker has no more results on the way than the
			// URLs it holds (the credit bounds them); a stranger's pipe
			// fills and libzmq stops reading it.
			if err := so.SetRcvhwm(resultsHWM); err != nil {
				return err
			}
			// A frame larger than any result (a body of
			// max_content_length and max_links_per_page links of
			// max_url_length) disconnects its sender before it is read.
			if err := so.SetMaxmsgsize(int64(s.MaxContentLength) + int64(s.MaxLinksPerPage)*int64(s.MaxURLLength+1) + 1<<20); err != nil {
				return err
			}
			return so.SetSubscribe("")
		}},
		{&socks.mpub, zmq.PUB, time.Second, "zeromq_mgmt_master", s.ZeromqMgmtMaster, nil},
		{&socks.msub, zmq.SUB, 0, "zeromq_mgmt_worker", s.ZeromqMgmtWorker, func(so *zmq.Socket) error {
			if err := so.SetMaxmsgsize(mgmt.MaxMessageSize); err != nil {
				return err
			}
			return so.SetSubscribe("")
		}},
	}
	for _, st := range steps {
		so, err := zsock.New(zctx, st.typ, st.linger)
		if err != nil {
			closeAll()
			return nil, err
		}
		*st.dst = so
		if st.setup != nil {
			if err := st.setup(so); err != nil {
				closeAll()
				return nil, fmt.Errorf("configuring %s socket: %w", st.key, err)
			}
		}
		if m.auth != nil {
			if err := m.auth.Secure(so, st.key); err != nil {
				closeAll()
				return nil, err
			}
		}
		if err := so.Bind(st.endpoint); err != nil {
			closeAll()
			return nil, fmt.Errorf("binding %s to %s: %w", st.key, st.endpoint, err)
		}
		last, err := so.GetLastEndpoint()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("reading the endpoint %s bound: %w", st.key, err)
		}
		socks.bound = append(socks.bound, boundSocket{so: so, endpoint: st.endpoint, bound: last})
	}
	m.logExposure()
	return &socks, nil
}

// storeRetry is how often a failed frontier store is opened again.
const storeRetry = 2 * time.Second

// storeFailed handles a failed commit: with a state_dir of its own the
// master stops dispatching and keeps trying to open the store again (it
// holds everything up to its last commit); an embedded frontier is fatal.
func (m *Master) storeFailed(err error, now time.Time) error {
	d, ok := m.frontier.(discarder)
	if m.opts.Frontier != nil || m.s.StateDir == "" || !ok {
		return err // (it says what failed: the commit, or the output)
	}
	d.Discard(err) // what this turn changed must not be committed now
	m.storeStats = m.frontier.Stats()
	m.storeErr, m.storeTries = err, 0
	m.nextReopen = now.Add(storeRetry)
	ev := m.log.Error()
	if now.Sub(m.storeLogged) < time.Minute {
		ev = m.log.Debug() // failing again right after a reopen: said a moment ago
	} else {
		m.storeLogged = now
	}
	ev.Str("event", "SPYDER:STORE_FAILED").Err(err).Str("state_dir", m.s.StateDir).Dur("retry_every", storeRetry).
		Msg("the frontier store or the output cannot be written (disk full or failing?): dispatch stopped and results dropped until both are back; the store keeps everything up to its last commit, and what was in flight is fetched again")
	return nil
}

// discarder is a frontier whose uncommitted changes can be dropped: it
// then commits nothing more, and is reopened from its last commit.
type discarder interface{ Discard(error) }

// reopened is the outcome of a reopen of the frontier store.
type reopened struct {
	f   frontier.Frontier
	err error
}

// storeSpace is the free space state_dir needs before a reopen is tried
// (closing a store whose flush cannot be written waits until it can, in
// the reopen's goroutine).
const storeSpace = 1 << 20

// reopenStore tries, in a goroutine (closing the failed store may wait for
// its flush), to close the failed store and open it again: the state of its
// last commit, with the leases of then queued again. It starts only when
// state_dir has room; storeReopened takes the outcome.
func (m *Master) reopenStore(now time.Time) {
	m.nextReopen = now.Add(storeRetry)
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
	old, opts, class, done := m.frontier, m.frontierOpts, m.s.FrontierClass, make(chan reopened, 1)
	m.reopening = done
	go func() {
		_ = old.Close() // reports the failure again; a second Close does nothing
		f, err := frontier.Open(class, opts)
		done <- reopened{f, err}
		m.wake()
	}()
}

// storeReopened takes the outcome of a reopen, when there is one.
func (m *Master) storeReopened(wait bool) {
	var r reopened
	if wait {
		r = <-m.reopening
	} else {
		select {
		case r = <-m.reopening:
		default:
			return
		}
	}
	m.reopening = nil
	if r.err != nil {
		m.stillDown().Err(r.err).Msg("the frontier store cannot be opened yet; still trying")
		return
	}
	m.frontier, m.storeErr = r.f, nil
	clear(m.outstanding)
	fs := r.f.Stats()
	m.log.Info().Str("event", "SPYDER:STORE_RESUMED").Int64("queued", fs.Queued).Int64("seen", fs.Seen).
		Msg("the frontier store is back (as of its last commit, leases of then queued again); dispatch resumed")
}

// stillDown counts a failed try to bring the store back and returns a
// warning for every 30th (once a minute at storeRetry), a disabled event
// for the others.
func (m *Master) stillDown() *zerolog.Event {
	m.storeTries++
	if m.storeTries%30 != 1 {
		return nil // zerolog: a nil event logs nothing
	}
	return m.log.Warn().Int("tries", m.storeTries).Str("state_dir", m.s.StateDir)
}

// freeSpace is the room left for an unprivileged writer in dir.
func freeSpace(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// drops are the counts of dropped messages by reason, with the refused
// CURVE handshakes as curve_refused; a copy.
func (m *Master) drops() map[string]int64 {
	d := maps.Clone(m.stats.drops)
	if m.auth != nil {
		d["curve_refused"] = m.auth.Refused()
	}
	return d
}

// logExposure says who can reach the master's sockets: with CURVE, holders
// of allowed keys; without, anyone who reaches the addresses, which is only
// this machine on the default loopback addresses.
func (m *Master) logExposure() {
	endpoints := []string{m.s.ZeromqMasterPush, m.s.ZeromqMasterSub, m.s.ZeromqMgmtMaster, m.s.ZeromqMgmtWorker}
	var exposed []string
	for _, ep := range endpoints {
		if !curve.Loopback(ep) {
			exposed = append(exposed, ep)
		}
	}
	switch {
	case m.auth != nil:
		m.log.Info().Str("event", "curve").Int("allowed_keys", m.allowed.Len()).Str("allowed_file", m.s.CurveAllowedWorkers).
			Msg("CURVE: the master's sockets accept only clients whose keys are in curve_allowed_workers")
	case len(exposed) > 0:
		m.log.Warn().Str("event", "no_curve").Strs("exposed", exposed).
			Msg("bound beyond loopback without CURVE: anyone who reaches these addresses can take URLs and send results; set curve_server_secret_key and curve_allowed_workers (spyder keygen)")
	default:
		m.log.Info().Str("event", "no_curve").Msg("no CURVE keys: the master's sockets are bound to loopback, reachable from this machine only")
	}
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
	zctx, err := zmq.NewContext()
	if err != nil {
		return fmt.Errorf("creating zmq context: %w", err)
	}
	defer func() {
		if terr := zctx.Term(); terr != nil && err == nil {
			err = fmt.Errorf("terminating zmq context: %w", terr)
		}
	}()
	socks, err := m.bind(zctx)
	if err != nil {
		return err
	}
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
		srv, err := metrics.Listen(m.s.MetricsListen, m.metricsReg)
		if err != nil {
			return fmt.Errorf("%w: %v", settings.ErrInvalid, err) // exit 2: the setting names a port that is taken
		}
		defer srv.Close()
		m.log.Info().Str("event", "metrics").Str("addr", srv.Addr()).Msg("serving Prometheus metrics at /metrics")
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
	fs := m.frontierStats()
	if m.opts.UntilDone && fs.Idle() {
		m.nothingToCrawl(fs)
		return nil
	}
	ev := m.log.Info().Str("event", "SPYDER:MASTER_READY").Str("master", m.id).
		Str("push", m.s.ZeromqMasterPush).Str("sub", m.s.ZeromqMasterSub).
		Str("mgmt_pub", m.s.ZeromqMgmtMaster).Str("mgmt_sub", m.s.ZeromqMgmtWorker).
		Str("frontier", m.s.FrontierClass).Int64("queued", fs.Queued).Bool("paused", m.paused)
	if m.gate.Scope.HostBased() {
		ev = ev.Strs("scope_hosts", m.gate.Scope.SeedHosts())
	}
	ev.Msg("master started")
	return m.loop(ctx, socks)
}

// nothingToCrawl says why a master run --until-done stops before it
// starts: the crawl of its state_dir is finished (run again with the same
// command, as spyder init's README says) or it has no URL at all. Neither
// is a failure; a person needs to know what to do next.
func (m *Master) nothingToCrawl(fs frontier.Stats) {
	ev := m.log.Info().Str("event", "SPYDER:NOTHING_TO_CRAWL").Str("state_dir", m.s.StateDir).
		Int64("urls", fs.Seen).Int64("done", fs.Done).Int64("failed", fs.Failed).Int64("disallowed", fs.Disallowed).
		Int64("scheduled", fs.Scheduled)
	if fs.Seen == 0 {
		where := "state_dir " + m.s.StateDir
		if m.s.StateDir == "" {
			where = "the state (in memory: state_dir is empty)"
		}
		ev.Msg("nothing to crawl: no seeds and no URLs in " + where + "; give seeds with --seeds FILE (seeds_file) or spyder frontier inject")
		return
	}
	msg := fmt.Sprintf("this crawl is already done: all %d URLs in %s have their result (%d done, %d failed, %d disallowed by robots.txt)",
		fs.Seen, m.s.StateDir, fs.Done, fs.Failed, fs.Disallowed)
	if fs.Scheduled > 0 {
		msg += fmt.Sprintf("; %d are due for a revisit later (run without --until-done to wait for them)", fs.Scheduled)
	}
	ev.Msg(msg + ". To crawl again from the start, use a new state_dir (or delete this one); to crawl more, add seeds (new ones are crawled) or spyder inject URLs into a running master")
}

func (s *sockets) close() {
	s.push.Close()
	s.sub.Close()
	s.mpub.Close()
	s.msub.Close()
}

// wake interrupts the loop's poll from any goroutine; before the loop runs
// it does nothing (the loop looks at everything when it starts).
func (m *Master) wake() {
	if w := m.wakeable.Load(); w != nil {
		w.Wake()
	}
}

func (m *Master) closeState() error {
	var errs []error
	if m.reopening != nil {
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

// maxBatch and maxTurnBytes bound what one loop turn takes from one
// socket, in messages and in bytes, so that heartbeats, dispatch, timers
// and the other socket keep their time whatever arrives: a stranger
// flooding the result socket with 10 MB frames stalled the master's
// heartbeats for 4-6 s when a turn took up to 1,024 of them.
const (
	maxBatch     = 1024
	maxTurnBytes = 32 << 20
	// resultsHWM is the result socket's queue per peer, in messages.
	resultsHWM = 1000
)

func (m *Master) loop(ctx context.Context, socks *sockets) error {
	poller := zmq.NewPoller()
	pushID := poller.Add(socks.push, 0)
	poller.Add(socks.sub, zmq.POLLIN)
	poller.Add(socks.msub, zmq.POLLIN)
	poller.Add(m.waker.Socket(), zmq.POLLIN)

	now := time.Now()
	nextBeat, nextExpiry := now, now.Add(time.Second)
	m.lastReport.at = now
	m.started = now
	nextReport := now.Add(m.s.MasterProgressInterval)
	dispatchedBefore := m.stats.dispatched

	for {
		now = time.Now()
		if m.reopening != nil {
			m.storeReopened(false)
		} else if m.storeErr != nil && !now.Before(m.nextReopen) {
			m.reopenStore(now)
		}
		if m.state == running {
			if ctx.Err() != nil {
				m.beginDrain(now, "signal")
			} else if m.opts.UntilDone && m.storeErr == nil && m.frontier.Stats().Idle() {
				m.beginDrain(now, "crawl finished (--until-done)")
			}
		}
		if !now.Before(nextBeat) {
			m.publish(socks.mpub, mgmt.New(mgmt.TopicMaster, m.id, mgmt.VerbHeartbeat, nil))
			nextBeat = now.Add(m.s.HeartbeatInterval)
		}
		if !now.Before(nextExpiry) {
			if err := m.revokeKeys(socks, now); err != nil {
				return err
			}
			m.expire(now)
			m.rate.sample(now, m.stats.results)
			m.peakRate = max(m.peakRate, m.rate.perSecond())
			nextExpiry = now.Add(min(time.Second, m.s.HeartbeatInterval))
		}
		if m.s.MasterProgressInterval > 0 && !now.Before(nextReport) {
			m.report(now)
			nextReport = now.Add(m.s.MasterProgressInterval)
		}
		if len(m.quitting) > 0 && m.state == running && !now.Before(m.nextQuit) {
			for id := range m.quitting {
				if w, _ := m.registry.Get(id); w.State != workerActive {
					delete(m.quitting, id) // acknowledged, or lost
					continue
				}
				m.publish(socks.mpub, mgmt.New(mgmt.TopicTo+id, m.id, mgmt.VerbQuit, nil))
			}
			m.nextQuit = now.Add(250 * time.Millisecond)
		}
		if m.state == draining {
			// (With the store down, nothing in flight can be applied: its
			// URLs wait in the store for the next run.)
			if m.registry.Live() == 0 && (m.inFlight() == 0 || m.storeErr != nil) {
				return m.finish(true)
			}
			if now.After(m.drainEnd) {
				return m.finish(false)
			}
			if !now.Before(m.nextQuit) {
				m.publish(socks.mpub, mgmt.New(mgmt.TopicWorker, m.id, mgmt.VerbQuit, nil))
				m.nextQuit = now.Add(250 * time.Millisecond)
			}
		} else if m.paused || m.storeErr != nil {
			// Dispatch waits for a resume, or for the store to come back.
		} else if err := m.dispatch(socks.push, now); err != nil {
			return err
		}

		// Output first, then the group commit (one fsync for this turn's
		// dispatches and results): a kill between the two repeats a line of
		// output, never loses one.
		// (Only turns that changed something write; the others' commits
		// are no-ops and stay out of the latency histogram.)
		wrote := m.unflushed || m.stats.dispatched != dispatchedBefore
		dispatchedBefore = m.stats.dispatched
		commitStart := time.Now()
		if m.unflushed && m.storeErr == nil {
			m.unflushed = false
			if err := m.flushSinks(); err != nil {
				// Output that did not reach the disk must not be
				// committed as done: this turn is dropped like a failed
				// commit, and its URLs are fetched again.
				if err := m.storeFailed(fmt.Errorf("writing the output: %w", err), now); err != nil {
					return err
				}
			}
		}
		if m.storeErr == nil {
			if err := m.frontier.Commit(); err != nil {
				if err := m.storeFailed(err, now); err != nil {
					return err
				}
			}
		}
		if m.metrics != nil {
			if wrote {
				m.metrics.commit.Observe(time.Since(commitStart).Seconds())
			}
			m.metrics.publish(m, now, false)
		}

		pushEvents := zmq.State(0)
		if m.pushFull && m.state == running {
			pushEvents = zmq.POLLOUT
		}
		if _, err := poller.Update(pushID, pushEvents); err != nil {
			return fmt.Errorf("updating poller: %w", err)
		}
		polled, err := poller.Poll(m.pollTimeout(now, nextBeat, nextExpiry, nextReport))
		if err != nil {
			return fmt.Errorf("polling: %w", err)
		}
		if m.allowed != nil {
			// Once a turn, before any message is read: a key removed from
			// the file is refused from this turn on (revoke.go).
			m.allowed.Refresh()
		}
		for _, p := range polled {
			switch p.Socket {
			case socks.sub:
				n, err := m.receiveResults(socks.sub)
				if err != nil {
					return err
				}
				m.unflushed = m.unflushed || n > 0
			case socks.msub:
				m.receiveMgmt(socks.msub, socks.mpub)
			case socks.push:
				m.pushFull = false
			case m.waker.Socket():
				m.waker.Drain()
			}
		}
	}
}

// pollTimeout sleeps until the next thing the loop must do by itself.
func (m *Master) pollTimeout(now time.Time, deadlines ...time.Time) time.Duration {
	next := now.Add(time.Second)
	for _, d := range deadlines {
		if !d.IsZero() && d.Before(next) {
			next = d
		}
	}
	if m.state == running {
		if due := m.frontier.NextDue(now); !due.IsZero() && due.Before(next) && m.credit() > m.inFlight() && !m.pushFull {
			next = due
		}
	} else if m.nextQuit.Before(next) {
		next = m.nextQuit
	}
	return zsock.PollTimeout(next.Sub(now))
}

// credit is how many URLs may be in flight: a fixed number per live worker.
func (m *Master) credit() int {
	return m.registry.Live() * m.s.MasterInflightPerWorker
}

func (m *Master) dispatch(push *zmq.Socket, now time.Time) error {
	for !m.pushFull {
		room := m.credit() - m.inFlight()
		if room <= 0 {
			return nil
		}
		batch, err := m.frontier.Next(now, min(room, maxBatch))
		if err != nil {
			return fmt.Errorf("taking URLs from the frontier: %w", err)
		}
		m.recordDecided()
		if len(batch) == 0 {
			return nil
		}
		for i, c := range batch {
			ok, err := zsock.TrySend(push, crawluri.DataMessage{Identity: m.id, Curi: c}.Frames())
			if err != nil || !ok {
				// No worker can take it now: hand this and the rest of the
				// batch back, and wait until the socket is writable.
				for _, back := range batch[i:] {
					delete(m.outstanding, back.LeaseID)
					if rerr := m.frontier.Release(back.LeaseID, now); rerr != nil {
						return fmt.Errorf("returning %s to the frontier: %w", back.URL, rerr)
					}
				}
				if err != nil {
					return fmt.Errorf("sending to workers: %w", err)
				}
				m.pushFull = true
				return nil
			}
			m.stats.dispatched++
			m.outstanding[c.LeaseID] = &outstandingLease{at: now, url: c.URL}
			m.log.Debug().Str("url", c.URL).Int64("lease", c.LeaseID).Msg("dispatched")
		}
	}
	return nil
}

// recordDecided hands the URLs the frontier took out of the crawl without
// a fetch (robots.txt) to the sinks.
func (m *Master) recordDecided() {
	for _, c := range m.frontier.Decided() {
		m.unflushed = true
		m.log.Debug().Str("url", c.URL).Int16("status", c.StatusCode).Msg("not fetched: robots.txt")
		m.toSinks(c)
	}
}

// expire declares silent workers lost and puts URLs whose lease ran out back
// in the queue.
func (m *Master) expire(now time.Time) {
	if m.storeErr != nil {
		m.registry.Expire(now) // their leases are re-queued when the store reopens
		return
	}
	// Heartbeats may be waiting behind a flood on the management socket:
	// liveness and claims are judged once it is read to its end.
	if !m.mgmtBehind {
		m.releaseSilent(now)
	}
	expired, err := m.frontier.Expire(now)
	if err != nil {
		m.log.Error().Err(err).Msg("re-queueing expired leases failed")
	}
	m.stats.expired += int64(len(expired))
	for _, e := range expired {
		delete(m.outstanding, e.Lease)
		m.log.Warn().Str("url", e.URL).Int64("lease", e.Lease).Dur("lease_timeout", m.s.MasterLeaseTimeout).Msg("lease expired; URL queued again")
	}
}

// releaseSilent queues again the URLs of lost workers, and those no
// worker claimed.
func (m *Master) releaseSilent(now time.Time) {
	for _, w := range m.registry.Expire(now) {
		urls := m.release(now, func(o *outstandingLease) bool { return o.worker == w.ID })
		m.log.Warn().Str("event", "worker.lost").Str("worker", w.ID).Time("last_seen", w.LastSeen).
			Int("released", len(urls)).Strs("urls", urls[:min(len(urls), 20)]).Msg("worker lost: no heartbeat; its URLs are queued again")
	}
	// A URL that no live worker lists among the leases it holds two
	// heartbeats after its dispatch never reached one: it died in a lost
	// worker's pipes, or a peer that never announced took it (a PULL
	// socket connected to the master's PUSH). It goes back now rather
	// than after master_lease_timeout.
	window := 2 * m.s.HeartbeatInterval
	if urls := m.release(now, func(o *outstandingLease) bool { return o.worker == "" && now.Sub(o.at) >= window }); len(urls) > 0 {
		m.stats.unclaimed += int64(len(urls))
		m.log.Warn().Str("event", "lease.unclaimed").Int("released", len(urls)).Strs("urls", urls[:min(len(urls), 20)]).Dur("window", window).
			Msg("URLs no worker claimed within two heartbeats of their dispatch are queued again")
	}
}

// release queues again, at once, the URLs of the outstanding leases that
// match, and returns them. (A URL that a live worker still holds
// unreported is fetched twice at worst; its first result is then stale.)
func (m *Master) release(now time.Time, match func(*outstandingLease) bool) []string {
	var urls []string
	for id, o := range m.outstanding {
		if !match(o) {
			continue
		}
		delete(m.outstanding, id)
		if err := m.frontier.Release(id, now); err != nil {
			if !errors.Is(err, frontier.ErrStaleLease) {
				m.log.Error().Err(err).Int64("lease", id).Msg("releasing a lease failed")
			}
			continue
		}
		m.stats.released++
		urls = append(urls, o.url)
	}
	slices.Sort(urls)
	return urls
}

// inFlight is the number of outstanding leases.
func (m *Master) inFlight() int { return int(m.frontierStats().InFlight) }

// frontierStats are the frontier's counts; while its store is down, those
// of the moment it failed (the frontier may be closing or reopening).
func (m *Master) frontierStats() frontier.Stats {
	if m.storeErr != nil {
		return m.storeStats
	}
	return m.frontier.Stats()
}

func (m *Master) receiveResults(sub *zmq.Socket) (int, error) {
	applied, size := 0, 0
	for i := 0; i < maxBatch && size < maxTurnBytes; i++ {
		frames, user, err := m.take(sub)
		if err != nil {
			return applied, fmt.Errorf("receiving results: %w", err)
		}
		if frames == nil {
			break
		}
		size += framesSize(frames)
		if m.revokedSender(user) {
			continue
		}
		msg, err := crawluri.ParseDataMessage(frames)
		if err != nil {
			m.drop("undecodable_result", err)
			continue
		}
		if m.apply(msg.Curi, time.Now()) {
			applied++
		}
	}
	return applied, nil
}

// apply records one result. It is idempotent: a result whose lease is not
// outstanding (late, duplicate, forged) changes nothing.
func (m *Master) apply(c *crawluri.CrawlUri, now time.Time) bool {
	if m.storeErr != nil {
		m.drop("store_failed", fmt.Errorf("result for %s while the frontier store is down: fetched again once it is back", c.URL))
		return false
	}
	if c.StatusCode == 0 {
		// Handed back unfetched by a worker that is shutting down.
		if err := m.frontier.Release(c.LeaseID, now); err != nil {
			m.staleOrFail(c, err)
			return false
		}
		delete(m.outstanding, c.LeaseID)
		m.stats.results++
		m.stats.returned++
		return true
	}
	class := crawluri.StatusClass(c.StatusCode)
	var links []string
	var leftOut map[string]int64
	if crawluri.IsSuccess(c.StatusCode) || crawluri.IsRedirect(c.StatusCode) {
		raw := c.ExtractedURLs()
		var cut int
		links, leftOut, cut = m.admissible(raw)
		if cut > 0 {
			m.stats.linksCut += int64(cut)
			m.log.Warn().Str("url", c.URL).Str("worker", c.WorkerID).Int("links", len(raw)).Int("max_links_per_page", m.s.MaxLinksPerPage).
				Int("dropped", cut).Msg("result with more distinct links than max_links_per_page; the rest are dropped")
		}
	}
	added, err := m.frontier.Done(c, links, now)
	if err != nil {
		m.staleOrFail(c, err)
		return false
	}
	delete(m.outstanding, c.LeaseID)
	for reason, n := range leftOut {
		m.stats.linksLeftOut[reason] += n
	}
	m.stats.results++
	m.stats.byClass[class]++
	m.stats.bytes += int64(len(c.ContentBody))
	if m.metrics != nil {
		m.metrics.fetch.Observe(c.ReqTime)
	}
	m.stats.linksNew += int64(added)
	m.log.Debug().Str("url", c.URL).Int16("status", c.StatusCode).Str("worker", c.WorkerID).
		Int("links", len(links)).Int("new", added).Msg("result")
	m.toSinks(c)
	return true
}

// staleOrFail counts a result the frontier would not apply: a stale lease
// is a dropped message; anything else is a failure of the store, logged.
func (m *Master) staleOrFail(c *crawluri.CrawlUri, err error) {
	if errors.Is(err, frontier.ErrStaleLease) {
		m.drop("stale_result", err)
		return
	}
	m.log.Error().Err(err).Str("url", c.URL).Int64("lease", c.LeaseID).Msg("frontier could not apply a result")
}

// admissible passes links through the gate and keeps the distinct ones
// it admits, in the order they came; leftOut counts the others by reason
// (added to the master's counts once the result is applied).
// max_links_per_page bounds the distinct links it looks at: a page that
// repeats a link (the Python docs' contents.html has 13,945 links, 489
// distinct) keeps all of them, and cut is how many links came after the
// cap. A duplicate costs a map look-up, so a worker sending the same link
// a million times costs little either.
func (m *Master) admissible(raw []string) (links []string, leftOut map[string]int64, cut int) {
	links = make([]string, 0, min(len(raw), m.s.MaxLinksPerPage))
	seenRaw := make(map[string]struct{}, min(len(raw), m.s.MaxLinksPerPage))
	seen := make(map[string]struct{}, min(len(raw), m.s.MaxLinksPerPage))
	distinct := 0
	for i, r := range raw {
		if _, dup := seenRaw[r]; dup {
			continue
		}
		seenRaw[r] = struct{}{}
		u, err := m.gate.Link(r)
		if u != "" {
			if _, dup := seen[u]; dup {
				continue
			}
			seen[u] = struct{}{}
		}
		if distinct == m.s.MaxLinksPerPage {
			return links, leftOut, len(raw) - i
		}
		distinct++
		if err != nil {
			if leftOut == nil {
				leftOut = map[string]int64{}
			}
			leftOut[urlx.Reason(err)]++
			continue
		}
		links = append(links, u)
	}
	return links, leftOut, 0
}

func (m *Master) toSinks(c *crawluri.CrawlUri) {
	for _, sink := range m.sinks {
		var err error
		switch s := c.StatusCode; {
		case crawluri.IsSuccess(s):
			err = sink.ProcessSuccessfulCrawl(c)
		case crawluri.IsRedirect(s):
			err = sink.ProcessRedirect(c)
		case crawluri.StatusClass(s) == 4, crawluri.IsNotFetched(s):
			err = sink.ProcessNotFound(c)
		default:
			err = sink.ProcessServerError(c)
		}
		if err != nil {
			m.stats.sinkErrors++
			m.log.Error().Err(err).Str("url", c.URL).Msg("sink failed; result recorded as a server error (710)")
			c.StatusCode, c.Error = crawluri.StatusMasterException, err.Error()
			if err := sink.ProcessServerError(c); err != nil {
				m.log.Error().Err(err).Str("url", c.URL).Msg("sink failed again on the server-error path")
			}
		}
	}
}

func (m *Master) flushSinks() error {
	var errs []error
	for _, sink := range m.sinks {
		if f, ok := sink.(Flusher); ok {
			if err := f.Flush(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// framesSize is the bytes of a message's frames.
func framesSize(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

func (m *Master) receiveMgmt(msub, mpub *zmq.Socket) {
	// Behind until the socket is found empty: heartbeats may be waiting
	// in it, so no worker is declared lost and no URL unclaimed meanwhile.
	m.mgmtBehind = true
	for i, size := 0, 0; i < maxBatch && size < maxTurnBytes/8; i++ {
		frames, user, err := m.take(msub)
		if err != nil || frames == nil {
			m.mgmtBehind = false
			return
		}
		size += framesSize(frames)
		if m.revokedSender(user) {
			continue
		}
		msg, err := mgmt.Parse(frames)
		if err != nil {
			m.drop("undecodable_mgmt", err)
			continue
		}
		if isControl(msg) {
			m.control(msg, mpub, time.Now())
			continue
		}
		if msg.Topic != mgmt.TopicWorker || !strings.HasPrefix(msg.Identity, crawluri.RoleWorker+":") {
			m.drop("mgmt_not_from_worker", fmt.Errorf("topic %q from %q", msg.Topic, msg.Identity))
			continue
		}
		now := time.Now()
		switch msg.Verb {
		case mgmt.VerbAvail, mgmt.VerbHeartbeat:
			var a mgmt.Announce
			if err := msg.Decode(&a); err != nil {
				m.drop("undecodable_mgmt", err)
				continue
			}
			if a.Protocol != 0 && a.Protocol != mgmt.ProtocolVersion {
				m.drop("protocol_mismatch", fmt.Errorf("worker %s speaks protocol %d, this master %d", msg.Identity, a.Protocol, mgmt.ProtocolVersion))
				continue
			}
			if m.state == draining {
				// A worker that shows up now gets the quit straight away.
				m.publish(mpub, mgmt.New(mgmt.TopicWorker, m.id, mgmt.VerbQuit, nil))
			}
			if user != "" {
				m.workerKeys[msg.Identity] = user
			}
			w, activated := m.registry.Seen(msg.Identity, now, a)
			if w.State == workerGone {
				continue
			}
			for _, id := range a.Leases {
				if o := m.outstanding[id]; o != nil {
					o.worker = w.ID
				}
			}
			if activated {
				m.log.Info().Str("worker", w.ID).Int("max_clients", w.MaxClients).Int("live", m.registry.Live()).Msg("worker registered")
			}
			if msg.Verb == mgmt.VerbAvail || activated {
				m.publish(mpub, mgmt.New(mgmt.TopicTo+msg.Identity, m.id, mgmt.VerbAck, nil))
			}
		case mgmt.VerbQuitAck:
			wasActive := m.registry.QuitAck(msg.Identity, now)
			m.quitAcks = append(m.quitAcks, msg.Identity)
			m.log.Info().Str("event", "quit.ack").Str("worker", msg.Identity).Bool("was_active", wasActive).
				Int("live", m.registry.Live()).Msg("worker acknowledged quit")
		default:
			m.drop("unknown_verb", fmt.Errorf("verb %q from %s", msg.Verb, msg.Identity))
		}
	}
}

func (m *Master) publish(mpub *zmq.Socket, msg mgmt.Message) {
	if _, err := zsock.TrySend(mpub, msg.Frames()); err != nil {
		m.log.Warn().Err(err).Str("verb", msg.Verb).Msg("publishing a management message failed")
	}
}

func (m *Master) beginDrain(now time.Time, reason string) {
	m.state, m.endReason = draining, reason
	m.drainEnd = now.Add(m.s.MasterShutdownGrace)
	m.nextQuit = now
	m.log.Info().Str("event", "SPYDER:MASTER_SHUTDOWN_REQUESTED").Str("reason", reason).
		Int("workers", m.registry.Live()).Int("in_flight", m.inFlight()).Dur("grace", m.s.MasterShutdownGrace).
		Msg("shutting down: dispatch stopped, workers told to quit")
}

func (m *Master) finish(clean bool) error {
	if err := m.flushSinks(); err != nil {
		m.log.Error().Err(err).Msg("writing the output at shutdown failed")
		clean = false
	}
	if m.storeErr != nil {
		m.log.Error().Err(m.storeErr).Msg("stopping with the frontier store down: it keeps its last commit; the next run goes on from there")
		clean = false
	} else if err := m.frontier.Commit(); err != nil {
		m.log.Error().Err(err).Msg("committing frontier state at shutdown failed")
		clean = false
	}
	fs := m.frontierStats()
	var waiting []string
	for _, w := range m.registry.Workers() {
		if w.State == workerActive {
			waiting = append(waiting, w.ID)
		}
	}
	m.log.Info().Str("event", "SPYDER:MASTER_DOWN").Bool("clean", clean).
		Int64("dispatched", m.stats.dispatched).Int64("results", m.stats.results).
		Int64("done", fs.Done).Int64("failed", fs.Failed).Int64("queued", fs.Queued).
		Int64("scheduled", fs.Scheduled).Int64("retried", fs.Retried).Int64("disallowed", fs.Disallowed).
		Int("in_flight", m.inFlight()).Int64("returned", m.stats.returned).Int64("expired", m.stats.expired).Int64("released", m.stats.released).Int64("unclaimed", m.stats.unclaimed).
		Interface("results_by_class", m.stats.classes()).Int64("sink_errors", m.stats.sinkErrors).
		Int64("bad_seeds", m.badSeeds).Int64("links_new", m.stats.linksNew).
		Int64("links_out_of_scope", m.stats.linksLeftOut[urlx.ReasonOutOfScope]).Int64("links_invalid", m.stats.linksLeftOut[urlx.ReasonInvalid]).
		Int64("links_too_long", m.stats.linksLeftOut[urlx.ReasonTooLong]).Int64("links_too_deep", fs.TooDeep).Int64("links_over_host_cap", fs.TooMany).Int64("links_over_page_cap", m.stats.linksCut).
		Interface("drops", m.stats.drops).
		Strs("quit_acks", m.quitAcks).Strs("unacknowledged", waiting).
		Msg("master stopped")
	m.summarize(time.Now(), fs)
	if !clean {
		return fmt.Errorf("%w: %d worker(s) did not acknowledge quit %v, %d URL(s) still in flight after %v",
			ErrUncleanShutdown, len(waiting), waiting, m.inFlight(), m.s.MasterShutdownGrace)
	}
	return nil
}

func (m *Master) drop(reason string, err error) {
	m.stats.drops[reason]++
	if n := m.stats.drops[reason]; n > 10 && n%1000 != 0 {
		return // the first ten and every thousandth are logged
	}
	m.log.Warn().Str("reason", reason).Int64("count", m.stats.drops[reason]).Err(err).Msg("dropped a message")
}
