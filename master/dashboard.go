// dashboard.go: the live crawl dashboard the master serves on
// metrics_listen: the page at /, the JSON it reads at /api/status (its
// history kept here, in the master's memory), and operator actions at
// /api/control, which only dashboard_actions turns on and only a request
// with the token printed at start may take.

package master

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/mgmt"
)

//go:embed dashboard.html
var dashboardPage []byte

const (
	// dashSampleEvery is the step of the dashboard's history, and
	// dashHistory how long it is kept: 1,800 rows of eight numbers.
	dashSampleEvery = 2 * time.Second
	dashHistory     = time.Hour
	// dashHostsEvery is how often the busiest and held hosts are listed
	// (a walk of every queue), and dashHosts how many of each.
	dashHostsEvery = 5 * time.Second
	dashHosts      = 20
	// dashActionWait bounds how long an action waits for the loop.
	dashActionWait = 5 * time.Second
)

// dashColumns name the numbers of a history row: counts since the master
// started, so that the page takes rates from two rows.
var dashColumns = []string{"t_ms", "results", "bytes", "2xx", "3xx", "4xx", "5xx", "other"}

// DashboardStatus is what /api/status returns (documented in README.md).
type DashboardStatus struct {
	Status *mgmt.Status `json:"status"`
	// History: one row (dashColumns) every EveryS seconds over the last
	// hour, oldest first; with ?since=T only the rows after T (unix ms).
	History struct {
		EveryS  float64   `json:"every_s"`
		Columns []string  `json:"columns"`
		Rows    [][]int64 `json:"rows"`
	} `json:"history"`
	// Hosts with the most URLs queued, and hosts held beyond politeness
	// (both empty for a store that does not list them).
	Busiest []frontier.HostReport `json:"busiest_hosts"`
	Held    []frontier.HostReport `json:"held_hosts"`
	// Actions says whether /api/control takes requests (dashboard_actions).
	Actions bool `json:"actions"`
}

// dashboard is the loop's side and the HTTP side of the page: the loop
// publishes under mu; handlers read under it and hand actions to the loop
// through requests.
type dashboard struct {
	mu       sync.Mutex
	status   *mgmt.Status
	rows     [][]int64 // ring of dashHistory/dashSampleEvery rows
	next     int       // where the next row goes once the ring is full
	busiest  []frontier.HostReport
	held     []frontier.HostReport
	sampleAt time.Time // next history row
	hostsAt  time.Time // next host listing

	actions  bool
	token    string
	requests chan dashRequest
	wake     func()
}

// dashRequest is an operator action taken from the page, for the loop.
type dashRequest struct {
	verb  string
	req   mgmt.Request
	from  string
	reply chan mgmt.Reply
}

// newDashboard makes the dashboard; with actions, a fresh token.
func newDashboard(actions bool, wake func()) (*dashboard, error) {
	d := &dashboard{actions: actions, requests: make(chan dashRequest, 16), wake: wake}
	if actions {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("dashboard token: %w", err)
		}
		d.token = hex.EncodeToString(b)
	}
	return d, nil
}

// publish refreshes what the page shows, from the loop: the status each
// call, a history row every dashSampleEvery, the hosts every
// dashHostsEvery.
func (d *dashboard) publish(m *Master, now time.Time) {
	if d == nil {
		return
	}
	st := m.status(now)
	var row []int64
	if !now.Before(d.sampleAt) {
		d.sampleAt = now.Add(dashSampleEvery)
		c := &m.stats.byClass
		other := c[0] + c[1] + c[6] + c[7] + c[8] + c[9]
		row = []int64{now.UnixMilli(), m.stats.results, m.stats.bytes, c[2], c[3], c[4], c[5], other}
	}
	var busiest, held []frontier.HostReport
	listed := false
	if !now.Before(d.hostsAt) && !m.store.down() {
		d.hostsAt = now.Add(dashHostsEvery)
		if l, ok := frontier.Hosts(m.frontier); ok {
			var err error
			if busiest, held, err = l.BusiestHosts(dashHosts, now); err != nil {
				m.log.Warn().Err(err).Msg("dashboard: listing the hosts failed")
			}
			listed = err == nil
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status = st
	if row != nil {
		if max := int(dashHistory / dashSampleEvery); len(d.rows) < max {
			d.rows = append(d.rows, row)
		} else {
			d.rows[d.next] = row
			d.next = (d.next + 1) % max
		}
	}
	if listed {
		d.busiest, d.held = busiest, held
	}
}

// snapshot is /api/status's answer: rows after since (unix ms).
func (d *dashboard) snapshot(since int64) *DashboardStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := &DashboardStatus{Status: d.status, Busiest: d.busiest, Held: d.held, Actions: d.actions}
	out.History.EveryS, out.History.Columns = dashSampleEvery.Seconds(), dashColumns
	out.History.Rows = [][]int64{}
	for i := range d.rows {
		if row := d.rows[(d.next+i)%len(d.rows)]; row[0] > since {
			out.History.Rows = append(out.History.Rows, row)
		}
	}
	if out.Busiest == nil {
		out.Busiest = []frontier.HostReport{}
	}
	if out.Held == nil {
		out.Held = []frontier.HostReport{}
	}
	return out
}

// routes are the dashboard's handlers, served beside /metrics.
func (d *dashboard) routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /{$}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(dashboardPage)
		}),
		"GET /api/status": http.HandlerFunc(d.serveStatus),
		"/api/control":    http.HandlerFunc(d.serveControl),
	}
}

func (d *dashboard) serveStatus(w http.ResponseWriter, r *http.Request) {
	var since int64
	if s := r.URL.Query().Get("since"); s != "" {
		var err error
		if since, err = strconv.ParseInt(s, 10, 64); err != nil {
			httpError(w, http.StatusBadRequest, "since: %q is not a time in unix milliseconds", s)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(d.snapshot(since))
}

// ControlRequest is the body of a POST to /api/control.
type ControlRequest struct {
	// Verb is pause, resume, stop or host.
	Verb string `json:"verb"`
	// For host, as spyder host takes them: the host, its least delay in
	// seconds (negative: back to frontier_min_delay), and a time (RFC
	// 3339) before which nothing of it is fetched.
	Host       string   `json:"host,omitempty"`
	DelayS     *float64 `json:"delay_s,omitempty"`
	BlockUntil string   `json:"block_until,omitempty"`
}

// dashVerbs are the actions the page offers.
var dashVerbs = map[string]string{"pause": mgmt.VerbPause, "resume": mgmt.VerbResume, "stop": mgmt.VerbStop, "host": mgmt.VerbHost}

func (d *dashboard) serveControl(w http.ResponseWriter, r *http.Request) {
	switch {
	case !d.actions:
		httpError(w, http.StatusForbidden, "operator actions are off: set dashboard_actions: true and use the token the master prints at start")
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "POST a JSON body {\"verb\": \"pause\"}")
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(d.token)) != 1 {
		httpError(w, http.StatusUnauthorized, "no valid token: send the one the master printed at start as Authorization: Bearer TOKEN")
		return
	}
	var c ControlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&c); err != nil {
		httpError(w, http.StatusBadRequest, "body: %v (a JSON object such as {\"verb\": \"pause\"})", err)
		return
	}
	verb, known := dashVerbs[c.Verb]
	if !known {
		httpError(w, http.StatusBadRequest, "verb %q: pause, resume, stop or host", c.Verb)
		return
	}
	req := mgmt.Request{ID: "dashboard"}
	if verb == mgmt.VerbHost {
		req.Host, req.Delay, req.BlockUntil = c.Host, c.DelayS, c.BlockUntil
	}
	dr := dashRequest{verb: verb, req: req, from: mgmt.RoleControl + ":dashboard:" + r.RemoteAddr, reply: make(chan mgmt.Reply, 1)}
	select {
	case d.requests <- dr:
	default:
		httpError(w, http.StatusServiceUnavailable, "the master has actions waiting; try again")
		return
	}
	d.wake()
	select {
	case reply := <-dr.reply:
		w.Header().Set("Content-Type", "application/json")
		if reply.Error != "" {
			w.WriteHeader(http.StatusConflict)
		}
		json.NewEncoder(w).Encode(reply)
	case <-time.After(dashActionWait):
		httpError(w, http.StatusGatewayTimeout, "the master did not answer within %v", dashActionWait)
	case <-r.Context().Done():
	}
}

// takeActions carries out the actions the page sent, on the loop.
func (d *dashboard) takeActions(m *Master, now time.Time) {
	if d == nil {
		return
	}
	for {
		select {
		case dr := <-d.requests:
			reply := m.carryOut(mgmt.Message{Topic: mgmt.TopicControl, Identity: dr.from, Verb: dr.verb}, dr.req, now)
			reply.State = m.stateName()
			dr.reply <- reply
		default:
			return
		}
	}
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}
