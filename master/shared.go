// shared.go: a master among several on one frontier (frontier_store:
// redis): the endpoints it publishes in the crawl's directory, the
// directory it passes on to workers, and results meant for it only.

package master

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/frontier/redisstore"
	"github.com/spyder-crawl/spyder/mgmt"
)

// shared is the Redis store under the frontier when the crawl is shared by
// several masters, else nil.
func (m *Master) shared() *redisstore.Store {
	rs, _ := frontier.StoreOf(m.frontier).(*redisstore.Store)
	return rs
}

// advertise puts this master's endpoints, as workers elsewhere reach
// them, into the crawl's directory (once its sockets are bound: a port 0
// is known only then).
func (m *Master) advertise(socks *sockets) {
	rs := m.shared()
	if rs == nil {
		return
	}
	host := m.s.MasterAdvertiseHost
	if host == "" {
		host, _ = os.Hostname()
	}
	ep := func(so *zmq.Socket) string {
		for _, b := range socks.bound {
			if b.so == so {
				return reachable(b.bound, host)
			}
		}
		return ""
	}
	e := mgmt.Endpoints{Push: ep(socks.push), Sub: ep(socks.sub), MgmtPub: ep(socks.mpub), MgmtSub: ep(socks.msub)}
	b, _ := json.Marshal(e)
	m.endpoints = string(b) // a reopened store publishes them too
	rs.SetEndpoints(m.endpoints)
}

// reachable is a bound endpoint as another machine reaches it: an
// endpoint bound to every interface (tcp://0.0.0.0:5550, tcp://*:5550,
// tcp://[::]:5550) names host instead.
func reachable(endpoint, host string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "tcp" || host == "" {
		return endpoint
	}
	switch u.Hostname() {
	case "0.0.0.0", "*", "::", "":
		u.Host = net.JoinHostPort(host, u.Port())
		return u.String()
	}
	return endpoint
}

// publishDirectory passes the crawl's directory on to the workers (with
// the master's heartbeat), so that they connect to every master.
func (m *Master) publishDirectory(mpub *zmq.Socket) {
	rs := m.shared()
	if rs == nil {
		return
	}
	var d mgmt.Directory
	for _, e := range rs.Directory() {
		entry := mgmt.DirectoryEntry{ID: e.ID}
		if json.Unmarshal([]byte(e.Endpoints), &entry.Endpoints) != nil || entry.Push == "" {
			continue // not published yet
		}
		d.Masters = append(d.Masters, entry)
	}
	if len(d.Masters) > 0 {
		m.publish(mpub, mgmt.New(mgmt.TopicMaster, m.id, mgmt.VerbMasters, d))
	}
}

// resultTopic is what the master's result socket subscribes to: with a
// shared frontier its own identity (frame 0 of the URLs it sends, copied
// into their results), so that a worker connected to several masters
// sends each result to the master that dispatched it; alone, everything.
func resultTopic(sharedFrontier bool, id string) string {
	if sharedFrontier {
		return id
	}
	return ""
}

// Control fields of a shared crawl (redisstore's control hash).
const (
	controlPaused = "paused"
	controlStop   = "stop"
	// controlStopMaster + a master's identity stops that master only.
	controlStopMaster = "stop:"
)

// followCrawl, every second: this master reports its figures to the
// others, and follows the crawl's control: paused or not, stopped, or
// this master asked to stop.
func (m *Master) followCrawl(now time.Time) {
	rs := m.shared()
	if rs == nil {
		return
	}
	b, _ := json.Marshal(mgmt.ClusterMaster{State: m.stateName(), Partitions: len(rs.Owned()), Workers: m.registry.Live(),
		PagesPerSec: m.rate.perSecond(), Dispatched: m.stats.dispatched, Results: m.stats.results})
	rs.SetReport(string(b))
	if now.After(m.nextScopeSync) {
		// Seeds injected at another master widen the scope here too.
		m.nextScopeSync = now.Add(scopeSyncEvery)
		if hosts, err := rs.SeedHosts(); err == nil {
			for _, h := range hosts {
				m.gate.Scope.AddHost(h)
			}
		}
	}
	if m.mode == modeDraining {
		return
	}
	c := rs.Control()
	if by := c[controlStopMaster+m.id]; by != "" {
		_ = rs.SetControl(controlStopMaster+m.id, "")
		m.beginDrain(now, "stop requested by "+by+" for this master")
		return
	}
	if by := c[controlStop]; by != "" {
		m.beginDrain(now, crawlStopped+" by "+by)
		return
	}
	switch paused := c[controlPaused] == "1"; {
	case paused && m.mode == modeRunning:
		m.mode = modePaused
		m.log.Info().Str("event", "control").Str("verb", mgmt.VerbPause).Msg("the crawl is paused (by an operator at another master); dispatch paused")
	case !paused && m.mode == modePaused && c[controlPaused] == "0":
		m.mode = modeRunning
		m.log.Info().Str("event", "control").Str("verb", mgmt.VerbResume).Msg("the crawl is resumed (by an operator at another master); dispatch resumed")
	}
}

// liftOldStop: a master that starts a shared crawl alone lifts the stop
// of its last run (a stop asks the masters running then to stop; it does
// not forbid the crawl for ever).
func (m *Master) liftOldStop() {
	rs := m.shared()
	if rs == nil || rs.Masters() > 1 || rs.Control()[controlStop] == "" {
		return
	}
	if err := rs.SetControl(controlStop, ""); err != nil {
		m.log.Warn().Err(err).Msg("cannot lift the crawl's last stop; this master will stop at once")
		return
	}
	m.log.Info().Msg("the crawl was stopped in its last run; starting it again")
}

// scopeSyncEvery is how often a master of a shared crawl reads the seeds'
// hosts again (the default scope).
const scopeSyncEvery = 5 * time.Second

// crawlStopped is the reason of a drain that stops the whole crawl.
const crawlStopped = "the crawl was stopped"

// steerCrawl carries a pause, resume or stop of an operator over to the
// whole shared crawl (the other masters follow within a second); master
// names one master to stop. It reports whether the request was for
// another master (nothing to do here).
func (m *Master) steerCrawl(verb, from, master string) (elsewhere bool, err error) {
	rs := m.shared()
	if rs == nil {
		return false, nil
	}
	switch verb {
	case mgmt.VerbPause:
		return false, rs.SetControl(controlPaused, "1")
	case mgmt.VerbResume:
		return false, rs.SetControl(controlPaused, "0")
	case mgmt.VerbStop:
		if master != "" && master != m.id {
			return true, rs.SetControl(controlStopMaster+master, from)
		}
		if master == "" {
			return false, rs.SetControl(controlStop, from)
		}
	}
	return false, nil
}

// clusterStatus is the shared crawl as this master knows it.
func (m *Master) clusterStatus() *mgmt.Cluster {
	rs := m.shared()
	if rs == nil {
		return nil
	}
	c := &mgmt.Cluster{Crawl: m.s.FrontierRedisCrawl, Partitions: rs.Partitions(), Paused: rs.Control()[controlPaused] == "1"}
	for _, d := range rs.Directory() {
		cm := mgmt.ClusterMaster{ID: d.ID, State: "starting"}
		_ = json.Unmarshal([]byte(d.Report), &cm)
		cm.ID = d.ID
		var ep mgmt.Endpoints
		if json.Unmarshal([]byte(d.Endpoints), &ep) == nil {
			cm.Push = ep.Push
		}
		c.Masters = append(c.Masters, cm)
	}
	return c
}
