// control.go: operators' control requests (pause, resume, stop, add,
// host, quit-worker, status), answered once per request ID.

package master

import (
	"fmt"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/mgmt"
)

// Operators steer a running master through control requests on the
// management bus (mgmt.TopicControl; see mgmt/control.go): status, pause,
// resume, stop, add. Each is answered on the requester's own topic; a
// repeated request ID gets the first answer again, so a command that
// repeats its request until answered changes things once.

// maxRemembered bounds the replies kept for repeated requests.
const maxRemembered = 256

// maxAddURLs bounds the URLs of one add request; commands send more in
// several requests.
const maxAddURLs = 10000

// control answers one control request.
func (m *Master) control(msg mgmt.Message, mpub *zmq.Socket, now time.Time) {
	var req mgmt.Request
	if err := msg.Decode(&req); err != nil || req.ID == "" {
		m.drop("undecodable_mgmt", fmt.Errorf("control request %q from %s without an id: %v", msg.Verb, msg.Identity, err))
		return
	}
	reply, seen := m.replies[req.ID]
	if !seen && m.store.down() && (msg.Verb == mgmt.VerbAdd || msg.Verb == mgmt.VerbHost) {
		// Not remembered: the same request may be sent again once the
		// store is back.
		reply, seen = mgmt.Reply{ID: req.ID, Error: "the frontier store is down (state_dir full or failing?): nothing can be added or changed until it is back; try again"}, true
	}
	if !seen {
		reply = m.carryOut(msg, req, now)
		reply.ID = req.ID
		m.remember(req.ID, reply)
	}
	if msg.Verb == mgmt.VerbStatus {
		reply.Status = m.status(now) // always fresh
	}
	reply.State = m.stateName()
	m.publish(mpub, mgmt.New(mgmt.TopicTo+msg.Identity, m.id, mgmt.VerbReply, reply))
}

// carryOut carries out a control request the first time it arrives.
func (m *Master) carryOut(msg mgmt.Message, req mgmt.Request, now time.Time) mgmt.Reply {
	ok := mgmt.Reply{OK: true}
	logged := func() *zerolog.Event {
		return m.log.Info().Str("event", "control").Str("verb", msg.Verb).Str("from", msg.Identity)
	}
	elsewhere, err := m.steerCrawl(msg.Verb, msg.Identity, req.Master)
	switch {
	case err != nil:
		return mgmt.Reply{Error: err.Error()}
	case elsewhere:
		logged().Str("master", req.Master).Msg("asking another master of the crawl to stop")
		return ok
	}
	switch msg.Verb {
	case mgmt.VerbStatus:
		return ok
	case mgmt.VerbPause:
		if m.mode == modeRunning {
			m.mode = modePaused
			logged().Int("in_flight", m.inFlight()).Msg("dispatch paused; results of URLs in flight are still applied")
		}
		return ok
	case mgmt.VerbResume:
		if m.mode == modePaused {
			m.mode = modeRunning
			logged().Msg("dispatch resumed")
		}
		return ok
	case mgmt.VerbStop:
		if m.mode != modeDraining {
			reason := "stop requested by " + msg.Identity
			if m.shared() != nil && req.Master == "" {
				reason = crawlStopped + " by " + msg.Identity
			}
			m.beginDrain(now, reason)
		}
		return ok
	case mgmt.VerbAdd:
		if len(req.URLs) > maxAddURLs {
			return mgmt.Reply{Error: fmt.Sprintf("%d URLs in one request; at most %d", len(req.URLs), maxAddURLs)}
		}
		n, refused, err := m.addSeeds(req.URLs, nil)
		if err != nil {
			m.log.Error().Err(err).Str("from", msg.Identity).Msg("adding URLs failed")
			return mgmt.Reply{Error: err.Error()}
		}
		logged().Int("urls", len(req.URLs)).Int("new", n).Int("invalid", len(refused)).Msg("URLs added")
		reply := mgmt.Reply{OK: true, Added: n, Bad: len(refused)}
		for _, r := range refused[:min(len(refused), mgmt.MaxRefusedInReply)] {
			reply.Refused = append(reply.Refused, truncate(r.URL, 200)+": "+r.Err.Error())
		}
		return reply
	case mgmt.VerbHost:
		return m.hostControl(req, now, logged)
	case mgmt.VerbQuitWorker:
		w, known := m.registry.Get(req.Worker)
		if !known || w.State != workerActive {
			return mgmt.Reply{Error: fmt.Sprintf("no active worker %q", req.Worker)}
		}
		m.quitting[req.Worker] = true
		m.quits.next = now
		logged().Str("worker", req.Worker).Msg("asking one worker to quit")
		return ok
	}
	m.drop("unknown_verb", fmt.Errorf("control verb %q from %s", msg.Verb, msg.Identity))
	return mgmt.Reply{Error: fmt.Sprintf("unknown request %q", msg.Verb)}
}

// hostControl changes a host's delay and/or holds it.
func (m *Master) hostControl(req mgmt.Request, now time.Time, logged func() *zerolog.Event) mgmt.Reply {
	host := strings.ToLower(strings.TrimSpace(req.Host))
	if host == "" || strings.ContainsAny(host, "/:@ ") {
		return mgmt.Reply{Error: fmt.Sprintf("%q is not a host name", req.Host)}
	}
	if req.Delay == nil && req.BlockUntil == "" {
		return mgmt.Reply{Error: "nothing to change: give a delay or a time to block until"}
	}
	var until time.Time
	if req.BlockUntil != "" {
		var err error
		if until, err = time.Parse(time.RFC3339, req.BlockUntil); err != nil {
			return mgmt.Reply{Error: fmt.Sprintf("block_until %q: %v", req.BlockUntil, err)}
		}
	}
	ev := logged().Str("host", host)
	if req.Delay != nil {
		d := time.Duration(*req.Delay * float64(time.Second))
		if !(*req.Delay < 1e6) { // also NaN
			return mgmt.Reply{Error: fmt.Sprintf("delay %v s is not a delay", *req.Delay)}
		}
		if err := m.frontier.SetHostDelay(host, d, now); err != nil {
			return mgmt.Reply{Error: err.Error()}
		}
		ev = ev.Dur("delay", d)
	}
	if !until.IsZero() {
		if err := m.frontier.BlockHost(host, until, now); err != nil {
			return mgmt.Reply{Error: err.Error()}
		}
		ev = ev.Time("blocked_until", until)
	}
	ev.Msg("host politeness changed")
	reply := mgmt.Reply{OK: true}
	if m.frontier.PolitenessScope(host) == frontier.WholeCrawl {
		reply.Note = fmt.Sprintf("frontier_class %s keeps one politeness clock for the whole crawl: this changed every host, not only %s (frontier_class multiple_host paces each host on its own)", m.s.FrontierClass, host)
	}
	return reply
}

func (m *Master) remember(id string, r mgmt.Reply) {
	if len(m.replyOrder) == maxRemembered {
		delete(m.replies, m.replyOrder[0])
		m.replyOrder = m.replyOrder[1:]
	}
	m.replies[id] = r
	m.replyOrder = append(m.replyOrder, id)
}

// status reports the master's state, its frontier and its workers.
func (m *Master) status(now time.Time) *mgmt.Status {
	fs := m.frontierStats()
	st := &mgmt.Status{
		Master: m.id, State: m.stateName(), Uptime: now.Sub(m.started).Seconds(), Frontier: m.s.FrontierClass,
		Seen: fs.Seen, Queued: fs.Queued, Scheduled: fs.Scheduled, InFlight: fs.InFlight, Done: fs.Done,
		Failed: fs.Failed, Retried: fs.Retried, Disallowed: fs.Disallowed,
		Dispatched: m.stats.dispatched, Results: m.stats.results, ResultsByClass: m.stats.classes(),
		Drops: m.drops(), PagesPerSec: m.rate.perSecond(), Cluster: m.clusterStatus(),
	}
	for _, w := range m.registry.Workers() {
		st.Workers = append(st.Workers, mgmt.WorkerStatus{
			ID: w.ID, State: w.State.String(), LastSeen: now.Sub(w.LastSeen).Seconds(), MaxClients: w.MaxClients,
			InFlight: w.InFlight, Done: w.Done, Errors: w.Errors, PagesPerSec: w.Rate,
		})
	}
	return st
}

// rateWindow estimates results per second over the last ten samples.
type rateWindow struct {
	at      [10]time.Time
	results [10]int64
	n, next int
}

func (r *rateWindow) sample(now time.Time, results int64) {
	r.at[r.next], r.results[r.next] = now, results
	r.next = (r.next + 1) % len(r.at)
	r.n = min(r.n+1, len(r.at))
}

func (r *rateWindow) perSecond() float64 {
	if r.n < 2 {
		return 0
	}
	newest := (r.next - 1 + len(r.at)) % len(r.at)
	oldest := (r.next - r.n + len(r.at)) % len(r.at)
	dt := r.at[newest].Sub(r.at[oldest]).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(r.results[newest]-r.results[oldest]) / dt
}

// isControl reports whether msg is an operator's request.
func isControl(msg mgmt.Message) bool {
	return msg.Topic == mgmt.TopicControl && strings.HasPrefix(msg.Identity, mgmt.RoleControl+":")
}
