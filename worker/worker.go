// Package worker is the spyder worker process: it pulls CrawlUris from a
// master, fetches them with up to max_clients concurrent requests, runs the
// processor pipeline (link extraction, scoping, cleanup) and publishes each
// result back, while announcing itself and heartbeating on the management bus.
//
// One goroutine owns every ZeroMQ socket. Fetches run on a pool of
// goroutines that hand results back through a channel and an inproc waker.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/metrics"
	"github.com/spyder-crawl/spyder/internal/warcfile"
	"github.com/spyder-crawl/spyder/internal/zsock"
	"github.com/spyder-crawl/spyder/mgmt"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
	"github.com/spyder-crawl/spyder/worker/processor"
)

// ErrDrainTimeout is returned by Run when running fetches had to be aborted
// at the end of the shutdown grace period (they were handed back unfetched).
var ErrDrainTimeout = errors.New("shutdown grace period ran out with fetches still running")

// Options configures a Worker.
type Options struct {
	Settings *settings.Settings
	// Identity is the worker's identity on the bus ("worker:<host>:<pid>").
	Identity string
	Logger   zerolog.Logger
}

// Worker is one worker process's crawling engine.
type Worker struct {
	s        *settings.Settings
	id       string
	log      zerolog.Logger
	fetcher  *Fetcher
	dns      *dnscache.Cache // the fetcher's; closed with it
	pipeline *processor.Pipeline
	canon    urlx.Canonicalization // links leave canonical and distinct
	// With CURVE (curve_server_public_key), every socket is a CURVE client
	// of the master's key with this worker's pair.
	curveServer string
	curveKeys   *curve.Pair
	nextRedial  time.Time // see redial
	redialed    bool

	jobs    chan *job
	results chan *job
	waker   *zsock.Waker

	metrics  *workerMetrics // nil unless metrics_listen is set
	archives archives       // WARC writers (archive.go)

	// owned by the loop
	running int
	done    int64
	errors  int64
	dropped map[string]int64
	// masters are the masters the worker knows (masters.go); own is the
	// identity of the master of its settings, once it subscribed.
	masters  map[string]*masterLink
	own      string
	draining bool
	drainEnd time.Time
	returned int64
	// dataReady is set once the master's result SUB has subscribed to our
	// XPUB: before that, a PUB drops every result, so the worker neither
	// connects its PULL socket nor announces itself.
	dataReady bool
	pending   [][][]byte // results the XPUB could not take yet (high-water mark)
	// backlog holds URLs received but not started. The worker reads its
	// PULL socket eagerly (up to maxBacklog) so that every URL that reached
	// it is in held and reported in heartbeats: when it dies, the master
	// releases exactly those at once instead of waiting for their leases.
	backlog []*job
	held    map[int64]struct{}
	// everAcked: a master has acknowledged this worker once (READY).
	everAcked bool
}

// maxBacklog bounds the URLs a worker holds, running or waiting. The
// worker takes every URL that reaches it, so that its next heartbeat lists
// it: the master queues again what no worker lists within two heartbeats
// of its dispatch, and its credit (master_inflight_per_worker per live
// worker) is what bounds the backlog. This bound only guards against a
// master that sends without one.
func (w *Worker) maxBacklog() int { return max(100000, 4*w.s.MaxClients) }

type job struct {
	master   string
	curi     *crawluri.CrawlUri
	received time.Time
	aborted  bool // the fetch was cancelled by shutdown: hand it back unfetched
}

// New builds a worker: its fetcher and its processor pipeline.
func New(opts Options) (*Worker, error) {
	s := opts.Settings
	if err := CheckSettings(s); err != nil {
		return nil, err
	}
	names := append(append([]string{}, s.SpyderExtractorPipeline...), s.SpyderScoperPipeline...)
	pipe, err := processor.Build(names, s)
	if err != nil {
		return nil, err
	}
	canon, err := urlx.ParseCanonicalization(s.URLCanonicalization)
	if err != nil {
		return nil, fmt.Errorf("%w: url_canonicalization: %v", settings.ErrInvalid, err)
	}
	static, err := dnscache.ParseStatic(s.StaticDNSMappings)
	if err != nil {
		return nil, fmt.Errorf("static_dns_mappings: %w", err)
	}
	serverKey, own, secure, err := curve.ClientKeys(s.CurveServerPublicKey, s.CurveSecretKey)
	if err != nil {
		return nil, err
	}
	dns := dnscache.New(dnscache.Options{Static: static, Size: s.SizeDNSCache, Timeout: s.ConnectTimeout})
	requests, err := NewRequestRules(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", settings.ErrInvalid, err)
	}
	filter, err := NewResponseFilter(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", settings.ErrInvalid, err)
	}
	var proxies []*url.URL
	for _, e := range s.Proxies {
		u, err := settings.ProxyEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%w: proxies: %v", settings.ErrInvalid, err)
		}
		proxies = append(proxies, u)
	}
	var wm *workerMetrics
	if s.MetricsListen != "" {
		wm = newWorkerMetrics()
	}
	w := &Worker{
		metrics:  wm,
		s:        s,
		id:       opts.Identity,
		log:      opts.Logger,
		pipeline: pipe,
		canon:    canon,
		fetcher: NewFetcher(FetchOptions{
			UserAgent:            s.UserAgent,
			MaxClients:           s.MaxClients,
			RequestTimeout:       s.RequestTimeout,
			ConnectTimeout:       s.ConnectTimeout,
			FollowRedirects:      s.FollowRedirects,
			MaxRedirects:         s.MaxRedirects,
			ValidateCertificates: s.ValidateCertificates,
			MaxContentLength:     s.MaxContentLength,
			Proxy:                ProxyURL(s.ProxyHost, s.ProxyPort, s.ProxyUsername, s.ProxyPassword),
			Proxies:              proxies,
			ProxyBackoff:         s.ProxyBackoff,
			Requests:             requests,
			Filter:               filter,
			DNS:                  dns,
		}),
		dns:     dns,
		jobs:    make(chan *job, s.MaxClients),
		results: make(chan *job, s.MaxClients),
		dropped: map[string]int64{},
		held:    map[int64]struct{}{},
		masters: map[string]*masterLink{},
	}
	if secure {
		w.curveServer, w.curveKeys = serverKey, &own
	}
	return w, nil
}

type sockets struct {
	pull, pub, msub, mpub *zmq.Socket
}

func (w *Worker) open(zctx *zmq.Context) (*sockets, error) {
	s := w.s
	var socks sockets
	specs := []zsock.Spec{
		// The PULL socket is connected later, once results can flow (see dataReady).
		{Dst: &socks.pull, Type: zmq.PULL, Name: "zeromq_worker_proc_fetcher_pull",
			Setup: func(so *zmq.Socket) error { return so.SetRcvhwm(s.MaxClients) }},
		// XPUB rather than PUB: it reports the master's subscription, and with
		// NODROP it refuses (instead of silently dropping) at the high-water mark.
		{Dst: &socks.pub, Type: zmq.XPUB, Linger: 2 * time.Second, Name: "zeromq_worker_proc_extractor_pub", Endpoint: s.ZeromqWorkerProcExtractorPub,
			Setup: func(so *zmq.Socket) error {
				if err := so.SetSndhwm(s.ZeromqWorkerProcExtractorPubHWM); err != nil {
					return err
				}
				if err := so.SetXpubVerbose(1); err != nil {
					return err
				}
				return so.SetXpubNodrop(true)
			}},
		{Dst: &socks.msub, Type: zmq.SUB, Name: "zeromq_mgmt_master", Endpoint: s.ZeromqMgmtMaster,
			Setup: func(so *zmq.Socket) error { return so.SetSubscribe("spyder.") }},
		{Dst: &socks.mpub, Type: zmq.PUB, Linger: 2 * time.Second, Name: "zeromq_mgmt_worker", Endpoint: s.ZeromqMgmtWorker},
	}
	var secure func(*zmq.Socket, string) error
	if w.curveKeys != nil {
		secure = func(so *zmq.Socket, name string) error {
			if err := curve.Client(so, w.curveServer, *w.curveKeys); err != nil {
				return fmt.Errorf("configuring the %s socket for CURVE: %w", name, err)
			}
			return nil
		}
	}
	if err := zsock.OpenAll(zctx, specs, secure); err != nil {
		return nil, err
	}
	if err := w.listenToMasters(&socks); err != nil {
		zsock.CloseAll(specs)
		return nil, err
	}
	return &socks, nil
}

// Run connects to the master and works until ctx is cancelled or the master
// says quit; then it stops taking URLs, hands back what it has not started,
// lets running fetches finish within worker_shutdown_grace, publishes their
// results, acknowledges the quit and returns. It returns nil after a clean
// drain and ErrDrainTimeout when fetches had to be aborted.
func (w *Worker) Run(ctx context.Context) error {
	return zsock.InContext(func(zctx *zmq.Context) error { return w.run(ctx, zctx) })
}

// run is Run in the zmq context zctx.
func (w *Worker) run(ctx context.Context, zctx *zmq.Context) error {
	socks, err := w.open(zctx)
	if err != nil {
		return err
	}
	w.waker, err = zsock.NewWaker(zctx)
	if err != nil {
		socks.pull.Close()
		socks.pub.Close()
		socks.msub.Close()
		socks.mpub.Close()
		return err
	}
	defer func() {
		w.waker.Close()
		socks.pull.Close()
		socks.pub.Close()
		socks.msub.Close()
		socks.mpub.Close()
		w.fetcher.Close()
		w.dns.Close()
		if err := w.archives.close(); err != nil {
			w.log.Error().Err(err).Msg("WARC files not finished (their records are in the .open files)")
		}
	}()

	fetchCtx, abortFetches := context.WithCancel(context.Background())
	defer abortFetches()
	var pool sync.WaitGroup
	for i := 0; i < w.s.MaxClients; i++ {
		pool.Add(1)
		go func() {
			defer pool.Done()
			w.fetchLoop(fetchCtx)
		}()
	}
	defer func() {
		abortFetches() // only matters when the loop failed: a clean drain has nothing running
		close(w.jobs)
		pool.Wait()
	}()

	stop := context.AfterFunc(ctx, w.waker.Wake)
	defer stop()
	if w.metrics != nil {
		srv, err := metrics.Listen(w.s.MetricsListen, w.metrics.reg, nil)
		if err != nil {
			return fmt.Errorf("%w: %v", settings.ErrInvalid, err) // exit 2: the setting names a port that is taken
		}
		defer srv.Close()
		w.log.Info().Str("event", "metrics").Str("addr", srv.Addr()).Msg("serving Prometheus metrics at /metrics")
	}

	w.log.Info().Stringer("event", events.WorkerStarted).Str("worker", w.id).
		Str("pull", w.s.ZeromqWorkerProcFetcherPull).Str("pub", w.s.ZeromqWorkerProcExtractorPub).
		Str("mgmt_master", w.s.ZeromqMgmtMaster).Str("mgmt_worker", w.s.ZeromqMgmtWorker).
		Int("max_clients", w.s.MaxClients).Bool("curve", w.curveKeys != nil).
		Msg("worker started; waiting for a master at " + w.masterAddresses())
	return w.loop(ctx, socks, abortFetches)
}

func (w *Worker) loop(ctx context.Context, socks *sockets, abortFetches context.CancelFunc) error {
	poller := zmq.NewPoller()
	pullID := poller.Add(socks.pull, 0)
	pubID := poller.Add(socks.pub, zmq.POLLIN)
	poller.Add(socks.msub, zmq.POLLIN)
	poller.Add(w.waker.Socket(), zmq.POLLIN)
	interval := w.s.HeartbeatInterval
	nextBeat := time.Now()
	// Until every master has acknowledged it, the worker announces itself
	// again after 10 ms, 20 ms, ... up to the heartbeat interval: its
	// first announcement is often lost (a PUB drops what it sends before
	// the master's SUB has connected), and the master's acknowledgement
	// can be too, and a whole heartbeat's wait delayed the first URL.
	announceEvery, nextAnnounce := firstAnnounceEvery, time.Time{}
	aborted := false

	for {
		now := time.Now()
		if !w.draining && ctx.Err() != nil {
			w.beginDrain(now, "signal")
		}
		if now.After(nextBeat) || now.Equal(nextBeat) {
			w.checkMasters(socks, now)
			w.heartbeat(socks.mpub, now)
			nextBeat = now.Add(interval)
			if err := w.redial(socks, now); err != nil {
				return err
			}
		}
		announcing := w.dataReady && !w.draining && !w.allAcked()
		switch {
		case !announcing:
			announceEvery, nextAnnounce = firstAnnounceEvery, time.Time{}
		case !now.Before(nextAnnounce):
			w.heartbeat(socks.mpub, now)
			nextAnnounce = now.Add(announceEvery)
			announceEvery = min(2*announceEvery, interval)
		}
		if w.draining {
			w.startJobs(socks.pub) // hands the backlog back
			if w.running == 0 && len(w.pending) == 0 {
				w.sendMgmt(socks.mpub, mgmt.New(mgmt.TopicWorker, w.id, mgmt.VerbQuitAck, nil))
				w.log.Info().Stringer("event", events.WorkerDown).Str("worker", w.id).Int64("done", w.done).
					Int64("errors", w.errors).Int64("returned", w.returned).Bool("clean", !aborted).Msg("worker stopped")
				if aborted {
					return ErrDrainTimeout
				}
				return nil
			}
			if !aborted && now.After(w.drainEnd) {
				w.log.Warn().Int("running", w.running).Int("unsent", len(w.pending)).Msg("shutdown grace period over; aborting running fetches, handing them back")
				abortFetches()
				aborted = true
			}
			if aborted && w.running == 0 && now.After(w.drainEnd.Add(w.s.WorkerShutdownGrace)) {
				// The master is not taking results: give up on them, its
				// leases will put the URLs back.
				w.log.Warn().Int("unsent", len(w.pending)).Msg("results could not be delivered; the master's leases will re-queue them")
				w.pending = nil
			}
		}

		// Take URLs only while a fetch slot is free; the rest wait in zmq.
		events := zmq.State(0)
		if w.dataReady && (w.running+len(w.backlog) < w.maxBacklog() || w.draining) {
			events = zmq.POLLIN
		}
		if _, err := poller.Update(pullID, events); err != nil {
			return fmt.Errorf("updating poller: %w", err)
		}
		pubEvents := zmq.POLLIN
		if len(w.pending) > 0 {
			pubEvents |= zmq.POLLOUT
		}
		if _, err := poller.Update(pubID, pubEvents); err != nil {
			return fmt.Errorf("updating poller: %w", err)
		}
		timeout := time.Until(nextBeat)
		if announcing {
			timeout = min(timeout, time.Until(nextAnnounce))
		}
		if w.draining && !aborted {
			timeout = min(timeout, time.Until(w.drainEnd))
		}
		polled, err := poller.Poll(zsock.PollTimeout(timeout))
		if err != nil {
			return fmt.Errorf("polling: %w", err)
		}
		for _, p := range polled {
			switch p.Socket {
			case socks.pub:
				if err := w.subscriptions(socks); err != nil {
					return err
				}
			case socks.pull:
				if err := w.receiveWork(socks); err != nil {
					return err
				}
			case socks.msub:
				w.receiveMgmt(socks)
			case w.waker.Socket():
				w.waker.Drain()
			}
		}
		if err := w.publishResults(socks.pub); err != nil {
			return err
		}
		w.startJobs(socks.pub)
	}
}

// masterAddresses lists the four addresses the worker reaches its master
// at, for the messages a person reads while none answers.
func (w *Worker) masterAddresses() string {
	return fmt.Sprintf("%s (URLs), %s (results), %s and %s (management)", w.s.ZeromqWorkerProcFetcherPull,
		w.s.ZeromqWorkerProcExtractorPub, w.s.ZeromqMgmtMaster, w.s.ZeromqMgmtWorker)
}

// firstAnnounceEvery is the first interval between a worker's
// announcements while a master has not acknowledged it; each next one is
// twice as long, up to the heartbeat interval.
const firstAnnounceEvery = 10 * time.Millisecond

// redialEvery is how often a worker that no master has acknowledged
// connects its sockets again: after a master refused its handshake (a key
// not yet allowed, no CURVE keys), libzmq may never retry
// (zeromq/libzmq#3519), and the master's allowed keys may have changed.
const redialEvery = 10 * time.Second

// redial reconnects a worker's sockets while no master acknowledges it,
// every redialEvery; never while it holds URLs or results, which a
// disconnect could drop.
func (w *Worker) redial(socks *sockets, now time.Time) error {
	if w.anyAcked() || w.draining || len(w.held) > 0 || len(w.pending) > 0 {
		w.nextRedial = time.Time{}
		return nil
	}
	if w.nextRedial.IsZero() {
		w.nextRedial = now.Add(redialEvery)
		return nil
	}
	if now.Before(w.nextRedial) {
		return nil
	}
	w.nextRedial = now.Add(redialEvery)
	if !w.redialed {
		w.log.Warn().Str("event", "unregistered").Dur("every", redialEvery).Bool("curve", w.curveKeys != nil).
			Msg("no master has answered at " + w.masterAddresses() + " yet; still trying (is a master running there? with CURVE, is this worker's public key in its curve_allowed_workers, and does the master require CURVE when this worker has no keys?)")
		w.redialed = true
	}
	for _, c := range []struct {
		so *zmq.Socket
		ep string
	}{{socks.pub, w.s.ZeromqWorkerProcExtractorPub}, {socks.msub, w.s.ZeromqMgmtMaster}, {socks.mpub, w.s.ZeromqMgmtWorker}} {
		if err := c.so.Disconnect(c.ep); err != nil {
			return fmt.Errorf("reconnecting to %s: %w", c.ep, err)
		}
		if err := c.so.Connect(c.ep); err != nil {
			return fmt.Errorf("reconnecting to %s: %w", c.ep, err)
		}
	}
	return nil
}

// subscriptions reads the subscription messages the XPUB reports. A
// master's means its result socket is connected: only then does the
// worker take URLs from that master (so no URL arrives whose result would
// be dropped) and, for the first, announce itself (masters.go).
func (w *Worker) subscriptions(socks *sockets) error {
	for {
		frames, err := zsock.TryRecv(socks.pub)
		if err != nil {
			return fmt.Errorf("reading subscriptions: %w", err)
		}
		if frames == nil {
			return nil
		}
		if len(frames) != 1 || len(frames[0]) == 0 || frames[0][0] != 1 {
			continue
		}
		if err := w.subscribed(socks, string(frames[0][1:])); err != nil {
			return err
		}
	}
}

// receiveWork takes URLs off the PULL socket while fetch slots are free. When
// draining, whatever arrives is handed straight back unfetched.
func (w *Worker) receiveWork(socks *sockets) error {
	for w.draining || w.running+len(w.backlog) < w.maxBacklog() {
		frames, err := zsock.TryRecv(socks.pull)
		if err != nil {
			return fmt.Errorf("receiving work: %w", err)
		}
		if frames == nil {
			return nil
		}
		msg, err := crawluri.ParseDataMessage(frames)
		if err != nil {
			w.drop("undecodable_work", err)
			continue
		}
		if w.draining {
			w.handBack(socks.pub, msg)
			continue
		}
		w.held[msg.Curi.LeaseID] = struct{}{}
		w.backlog = append(w.backlog, &job{master: msg.Identity, curi: msg.Curi, received: time.Now()})
	}
	return nil
}

// startJobs hands waiting URLs to free fetch slots, oldest first; when
// draining, it hands them back to the master instead.
func (w *Worker) startJobs(pub *zmq.Socket) {
	if w.draining {
		for _, j := range w.backlog {
			w.handBack(pub, crawluri.DataMessage{Identity: j.master, Curi: j.curi})
		}
		w.backlog = nil
		return
	}
	for w.running < w.s.MaxClients && len(w.backlog) > 0 {
		j := w.backlog[0]
		w.backlog[0] = nil
		w.backlog = w.backlog[1:]
		w.running++
		w.jobs <- j
	}
}

// handBack returns a URL unfetched (status 0) so the master queues it again.
func (w *Worker) handBack(pub *zmq.Socket, msg crawluri.DataMessage) {
	delete(w.held, msg.Curi.LeaseID)
	c := &crawluri.CrawlUri{URL: msg.Curi.URL, LeaseID: msg.Curi.LeaseID, WorkerID: w.id}
	if err := w.send(pub, crawluri.DataMessage{Identity: msg.Identity, Curi: c}); err != nil {
		w.log.Warn().Err(err).Str("url", c.URL).Msg("handing back a URL failed; its lease will expire")
		return
	}
	w.returned++
	if w.metrics != nil {
		w.metrics.returned.Inc()
	}
}

func (w *Worker) fetchLoop(ctx context.Context) {
	for j := range w.jobs {
		c := j.curi
		c.QueueTime = time.Since(j.received).Seconds()
		if !w.Process(ctx, c) {
			j.aborted = true
		} else if c.StatusCode != crawluri.StatusWorkerException {
			// The master's sinks read no body, and its frontier reads only
			// robots.txt's (a page whose path merely ends so keeps its body
			// too, which costs nothing but bytes). A master writing WARC
			// makes its records of the exchange as recorded, or, when it
			// could not be, of the body.
			if c.OmitBody && !strings.HasSuffix(c.URL, "/robots.txt") && (!c.Capture || len(c.RawResponse) > 0) {
				c.LeaveOutBody()
			}
		}
		if c.ArchiveDir != "" {
			c.RawRequest, c.RawResponse, c.RemoteIP = nil, nil, "" // archived here
		}
		c.OmitBody, c.ArchiveDir, c.Capture = false, "", false
		c.WorkerID = w.id
		w.results <- j
		w.waker.Wake()
	}
}

// Process does a fetch slot's work on c: the fetch, the processor
// pipeline, the WARC records when c asks for them (ArchiveDir), and the
// links made distinct. A processor's or the archive's failure makes c an
// 810 with the error. It reports false when ctx ended the fetch: c's
// outcome is then not the site's. `spyder fetch` runs it on one URL
// without a master.
func (w *Worker) Process(ctx context.Context, c *crawluri.CrawlUri) bool {
	w.fetcher.Fetch(ctx, c)
	if ctx.Err() != nil {
		return false
	}
	if err := w.pipeline.Run(ctx, c); err != nil {
		c.StatusCode, c.Error = crawluri.StatusWorkerException, err.Error()
	} else if err := w.archive(c); err != nil {
		c.StatusCode, c.Error = crawluri.StatusWorkerException, err.Error()
	} else {
		processor.DistinctLinks(c, w.canon)
	}
	noteDigest(c)
	return true
}

// noteDigest puts the payload's digest in the result when its master
// asks (VarWantDigest, for its crawl log): the WARC capture's when the
// fetch was archived (the payload as received), else the SHA-1 of the
// body.
func noteDigest(c *crawluri.CrawlUri) {
	if c.Var(crawluri.VarWantDigest) == "" {
		return
	}
	delete(c.OptionalVars, crawluri.VarWantDigest)
	if c.WARCCapture != "" || c.StatusCode < 100 || c.StatusCode >= crawluri.StatusTransportError || c.Var(crawluri.VarSkipped) != "" {
		return // (the master reads the capture's)
	}
	c.SetVar(crawluri.VarDigest, warcfile.BodyDigest(c.ContentBody))
}

// Close releases what a worker that never ran holds (its fetcher's
// connections, its WARC files); Run does it itself.
func (w *Worker) Close() error {
	w.fetcher.Close()
	return w.archives.close()
}

func (w *Worker) publishResults(pub *zmq.Socket) error {
	if err := w.flush(pub); err != nil {
		return err
	}
	for {
		select {
		case j := <-w.results:
			w.running--
			c := j.curi
			if j.aborted {
				w.handBack(pub, crawluri.DataMessage{Identity: j.master, Curi: c})
				continue
			}
			delete(w.held, c.LeaseID)
			if c.StatusCode == crawluri.StatusWorkerException {
				w.log.Warn().Str("url", c.URL).Str("error", c.Error).Msg("processing failed")
			}
			if crawluri.IsError(c.StatusCode) {
				w.errors++
			} else {
				w.done++
			}
			w.metrics.result(c, w.running)
			w.log.Debug().Str("url", c.URL).Int16("status", c.StatusCode).Float64("req_time", c.ReqTime).
				Int64("bytes", c.BodySize()).Msg("fetched")
			if err := w.send(pub, crawluri.DataMessage{Identity: j.master, Curi: c}); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// send publishes a result, or keeps it for later when the XPUB is at its
// high-water mark. Results keep their order.
func (w *Worker) send(pub *zmq.Socket, msg crawluri.DataMessage) error {
	w.pending = append(w.pending, msg.Frames())
	return w.flush(pub)
}

// flush sends kept results while the socket takes them.
func (w *Worker) flush(pub *zmq.Socket) error {
	for len(w.pending) > 0 {
		ok, err := zsock.TrySend(pub, w.pending[0])
		if err != nil {
			if zsock.IsTerm(err) {
				return fmt.Errorf("publishing result: %w", err)
			}
			w.drop("result_send_failed", err)
		} else if !ok {
			return nil
		}
		w.pending[0] = nil
		w.pending = w.pending[1:]
	}
	w.pending = nil
	return nil
}

func (w *Worker) heartbeat(mpub *zmq.Socket, now time.Time) {
	if !w.dataReady {
		return // not announcing before results can reach the master
	}
	leases := make([]int64, 0, len(w.held))
	for id := range w.held {
		leases = append(leases, id)
	}
	slices.Sort(leases)
	body := mgmt.Announce{Protocol: mgmt.ProtocolVersion, MaxClients: w.s.MaxClients, InFlight: w.running + len(w.backlog),
		Done: w.done, Errors: w.errors, Leases: leases}
	verb := mgmt.VerbHeartbeat
	if !w.allAcked() {
		verb = mgmt.VerbAvail // to every master: those that know the worker just acknowledge again
	}
	w.sendMgmt(mpub, mgmt.New(mgmt.TopicWorker, w.id, verb, body))
}

func (w *Worker) sendMgmt(mpub *zmq.Socket, m mgmt.Message) {
	if _, err := zsock.TrySend(mpub, m.Frames()); err != nil {
		w.log.Warn().Err(err).Str("verb", m.Verb).Msg("sending management message failed")
	}
}

func (w *Worker) receiveMgmt(socks *sockets) {
	for {
		frames, err := zsock.TryRecv(socks.msub)
		if err != nil || frames == nil {
			return
		}
		m, err := mgmt.Parse(frames)
		if err != nil {
			w.drop("undecodable_mgmt", err)
			continue
		}
		now := time.Now()
		fromMaster := strings.HasPrefix(m.Identity, crawluri.RoleMaster+":")
		switch {
		case m.Topic == mgmt.TopicTo+w.id && m.Verb == mgmt.VerbAck:
			l := w.link(m.Identity, now)
			if !w.everAcked {
				w.everAcked = true
				w.log.Info().Stringer("event", events.WorkerReady).Str("worker", w.id).Str("master", m.Identity).
					Msg("READY: registered with master " + m.Identity)
			} else if !l.acked {
				w.log.Info().Str("master", m.Identity).Msg("registered with master")
			}
			l.acked, l.heardAt = true, now
		case m.Topic == mgmt.TopicMaster && m.Verb == mgmt.VerbHeartbeat && fromMaster:
			l := w.link(m.Identity, now)
			l.heardAt = now
			if !l.acked && w.anyAcked() {
				w.log.Info().Str("master", m.Identity).Msg("a master that does not know this worker is up; announcing")
				w.heartbeat(socks.mpub, now)
			}
		case m.Topic == mgmt.TopicMaster && m.Verb == mgmt.VerbMasters && fromMaster:
			w.directory(socks, m.Identity, m.Body, now)
		case (m.Topic == mgmt.TopicWorker || m.Topic == mgmt.TopicTo+w.id) && m.Verb == mgmt.VerbQuit && fromMaster:
			if !w.draining {
				w.beginDrain(now, "quit from "+m.Identity)
			}
		}
	}
}

func (w *Worker) beginDrain(now time.Time, reason string) {
	w.draining = true
	w.drainEnd = now.Add(w.s.WorkerShutdownGrace)
	w.log.Info().Stringer("event", events.WorkerShutdownRequested).Str("reason", reason).Int("running", w.running).
		Dur("grace", w.s.WorkerShutdownGrace).Msg("shutting down: no new URLs, finishing running fetches")
}

func (w *Worker) drop(reason string, err error) {
	w.dropped[reason]++
	if n := w.dropped[reason]; n > 10 && n%1000 != 0 {
		return // logged the first ten and every thousandth: a flood must not flood the log
	}
	ev := w.log.Warn().Str("reason", reason).Int64("count", w.dropped[reason])
	if err != nil {
		ev = ev.Err(err)
	}
	ev.Msg("dropped a message")
}
