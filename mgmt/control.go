// control.go: the control requests and replies operators' commands
// exchange with a master, and the status a master reports.

package mgmt

import (
	"crypto/rand"
	"encoding/hex"
)

// The control channel lets an operator's command (`spyder status`,
// `pause`, `resume`, `stop`, `inject`) steer a running master over the same
// bus: the command connects like a worker, publishes a request on
// TopicControl under an identity "ctl:<host>:<pid>", and the master answers
// on TopicTo + that identity with VerbReply. PUB/SUB may drop the first
// messages of a new peer, so a command repeats its request until the reply
// with the request's ID arrives; the master answers a repeated ID with the
// reply it gave the first time, so every request takes effect once.
const (
	TopicControl = "spyder.ctl."

	VerbStatus = "status" // reply carries Status
	VerbPause  = "pause"  // stop dispatching; results are still applied
	VerbResume = "resume" // dispatch again
	VerbStop   = "stop"   // graceful shutdown, as on SIGTERM
	VerbAdd    = "add"    // admit Request.URLs as seeds (their hosts join the scope)
	VerbHost   = "host"   // set Request.Host's delay (Request.Delay) and/or hold it (Request.BlockUntil)
	// VerbQuitWorker stops one worker (Request.Worker) and no other: the
	// master sends it quit on its own topic until its quit.ack.
	VerbQuitWorker = "quit-worker"
	VerbReply      = "reply" // the master's answer to any of the above
)

// RoleControl prefixes the identity of an operator's command.
const RoleControl = "ctl"

// Request is the body of a control request.
type Request struct {
	ID   string   `json:"id"`
	URLs []string `json:"urls,omitempty"`
	// host: the host, its least delay in seconds (negative: back to
	// frontier_min_delay), and a time (RFC 3339) before which nothing of
	// it is fetched.
	Host       string   `json:"host,omitempty"`
	Delay      *float64 `json:"delay_s,omitempty"`
	BlockUntil string   `json:"block_until,omitempty"`
	// quit-worker: the worker's identity.
	Worker string `json:"worker,omitempty"`
	// stop: only this master of a shared crawl (its identity); empty
	// stops the whole crawl.
	Master string `json:"master,omitempty"`
}

// NewRequestID returns a random request ID.
func NewRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Reply is the body of the master's answer.
type Reply struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	State string `json:"state,omitempty"` // the master's state after the request: running, paused, stopping
	Added int    `json:"added,omitempty"` // add: URLs never seen before
	Bad   int    `json:"invalid,omitempty"`
	// Refused says why URLs of an add were refused: the first
	// MaxRefusedInReply of them, one "URL: reason" each (Bad counts all).
	Refused []string `json:"refused,omitempty"`
	// Note is what a person should know about what the request did (e.g.
	// that a host's delay changed every host's).
	Note   string  `json:"note,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// MaxMessageSize bounds a management frame, at the master's socket (a
// larger one disconnects its sender): a heartbeat listing 50,000 leases
// fits, a stranger's 10 MB frame does not.
const MaxMessageSize = 1 << 20

// MaxRefusedInReply bounds the reasons one add reply carries, so that a
// file of bad URLs cannot make a reply larger than the request.
const MaxRefusedInReply = 100

// Status is a running master's report.
type Status struct {
	Master         string           `json:"master"`
	State          string           `json:"state"`
	Uptime         float64          `json:"uptime_s"`
	Frontier       string           `json:"frontier"`
	Seen           int64            `json:"seen"`
	Queued         int64            `json:"queued"`
	Scheduled      int64            `json:"scheduled"`
	InFlight       int64            `json:"in_flight"`
	Done           int64            `json:"done"`
	Failed         int64            `json:"failed"`
	Retried        int64            `json:"retried"`
	Disallowed     int64            `json:"disallowed"`
	Dispatched     int64            `json:"dispatched"`
	Results        int64            `json:"results"`
	ResultsByClass map[string]int64 `json:"results_by_class"`
	Drops          map[string]int64 `json:"drops"`
	PagesPerSec    float64          `json:"pages_per_s"`
	Workers        []WorkerStatus   `json:"workers"`
	// Cluster: the masters of a crawl several share (frontier_store:
	// redis), as the one asked knows them; the counts above are then the
	// whole crawl's, dispatched, results and workers this master's.
	Cluster *Cluster `json:"cluster,omitempty"`
}

// Cluster is a shared crawl in a Status.
type Cluster struct {
	Crawl      string          `json:"crawl"`
	Partitions int             `json:"partitions"`
	Paused     bool            `json:"paused"`
	Masters    []ClusterMaster `json:"masters"`
}

// ClusterMaster is one master of a shared crawl, as it last reported
// itself (every second).
type ClusterMaster struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	Partitions  int     `json:"partitions"`
	Workers     int     `json:"workers"`
	PagesPerSec float64 `json:"pages_per_s"`
	Dispatched  int64   `json:"dispatched"`
	Results     int64   `json:"results"`
	Push        string  `json:"push,omitempty"`
}

// WorkerStatus is one worker in a Status.
type WorkerStatus struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	LastSeen    float64 `json:"last_seen_s_ago"`
	MaxClients  int     `json:"max_clients"`
	InFlight    int     `json:"in_flight"`
	Done        int64   `json:"done"`
	Errors      int64   `json:"errors"`
	PagesPerSec float64 `json:"pages_per_s"`
}
