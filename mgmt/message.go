// Package mgmt is the management bus between a master and its workers: the
// message format ([topic, identity, data] on a PUB/SUB pair in each
// direction), the verbs spoken on it, and the master's registry of live
// workers built from announcements and heartbeats.
//
// The bus is advisory: PUB/SUB may drop a message, so every exchange here is
// repeated until it is confirmed (announcements until acknowledged, quit until
// acknowledged) and liveness comes from periodic heartbeats rather than from
// single events. PROTOCOL.md describes the exchanges for implementers.
package mgmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spyder-crawl/spyder/crawluri"
)

// Topics (frame 0). Workers publish on TopicWorker; the master publishes
// broadcasts on TopicWorker (quit, as spyder did) and TopicMaster (its own
// heartbeat), and messages for one worker on TopicTo + that worker's identity.
const (
	TopicWorker = "spyder.worker."
	TopicMaster = "spyder.master."
	TopicTo     = "spyder.to."
)

// Verbs (the data frame, optionally followed by a space and a JSON object).
const (
	// VerbAvail is a worker's announcement, spyder's ZMQ_SPYDER_MGMT_WORKER_AVAIL.
	VerbAvail = "be here now"
	// VerbAck acknowledges an announcement; the worker then switches to heartbeats.
	VerbAck = "ack"
	// VerbHeartbeat is sent by workers (and by the master on TopicMaster) every
	// heartbeat interval.
	VerbHeartbeat = "heartbeat"
	// VerbQuit asks workers to stop pulling, finish their work and exit.
	VerbQuit = "quit"
	// VerbQuitAck is a worker's answer to quit, sent once its results are out.
	VerbQuitAck = "quit.ack"
	// VerbMasters is a master's directory of the masters of its crawl (a
	// Directory body), on TopicMaster with its heartbeat, when several
	// masters share one frontier: workers connect to every one.
	VerbMasters = "masters"
)

// ProtocolVersion is sent in announcements; a master refuses workers that
// speak a different major version.
const ProtocolVersion = 1

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed management message")

// Message is one management-bus message.
type Message struct {
	Topic    string
	Identity string // the sender
	Verb     string
	Body     []byte // optional JSON object after the verb, nil if absent
}

// Frames returns the three ZeroMQ frames of m.
func (m Message) Frames() [][]byte {
	data := []byte(m.Verb)
	if len(m.Body) > 0 {
		data = append(append(data, ' '), m.Body...)
	}
	return [][]byte{[]byte(m.Topic), []byte(m.Identity), data}
}

// New builds a message whose body is body encoded as JSON (omitted when nil).
func New(topic, identity, verb string, body any) Message {
	m := Message{Topic: topic, Identity: identity, Verb: verb}
	if body != nil {
		b, err := json.Marshal(body)
		if err == nil {
			m.Body = b
		}
	}
	return m
}

// Parse decodes and checks the frames of a management message: exactly three
// frames, a known topic family, a valid sender identity, and a body (if any)
// that is a JSON object.
func Parse(frames [][]byte) (Message, error) {
	if len(frames) != 3 {
		return Message{}, fmt.Errorf("%w: %d frames, want 3", ErrMalformed, len(frames))
	}
	m := Message{Topic: string(frames[0]), Identity: string(frames[1])}
	if !strings.HasPrefix(m.Topic, "spyder.") {
		return Message{}, fmt.Errorf("%w: topic %q outside spyder.*", ErrMalformed, truncate(m.Topic))
	}
	if !crawluri.ValidIdentity(m.Identity) {
		return Message{}, fmt.Errorf("%w: invalid identity %q", ErrMalformed, truncate(m.Identity))
	}
	data := frames[2]
	if i := indexBody(data); i >= 0 {
		m.Verb, m.Body = string(data[:i]), append([]byte(nil), data[i+1:]...)
		if !json.Valid(m.Body) {
			return Message{}, fmt.Errorf("%w: %q body is not JSON", ErrMalformed, m.Verb)
		}
	} else {
		m.Verb = string(data)
	}
	if m.Verb == "" {
		return Message{}, fmt.Errorf("%w: empty data frame", ErrMalformed)
	}
	return m, nil
}

// indexBody returns the index of the space that separates the verb from a
// JSON body (" {"), or -1. Verbs may contain spaces ("be here now").
func indexBody(data []byte) int {
	for i := 0; i+1 < len(data); i++ {
		if data[i] == ' ' && data[i+1] == '{' {
			return i
		}
	}
	return -1
}

// Decode unmarshals the JSON body into v; an absent body leaves v untouched.
func (m Message) Decode(v any) error {
	if len(m.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrMalformed, m.Verb, err)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Announce is the optional body of a worker's VerbAvail and VerbHeartbeat.
type Announce struct {
	Protocol   int   `json:"proto,omitempty"`
	MaxClients int   `json:"max_clients,omitempty"`
	InFlight   int   `json:"inflight"`
	Done       int64 `json:"done"`
	Errors     int64 `json:"errors"`
	// Leases the worker holds: received and not yet answered (waiting or
	// being fetched). When the worker is lost the master releases them at once.
	Leases []int64 `json:"leases,omitempty"`
}

// Endpoints are where workers reach a master: its four sockets.
type Endpoints struct {
	Push    string `json:"push"`     // URLs to fetch (workers PULL)
	Sub     string `json:"sub"`      // results (workers PUB)
	MgmtPub string `json:"mgmt_pub"` // management, master to workers (workers SUB)
	MgmtSub string `json:"mgmt_sub"` // management, workers to master (workers PUB)
}

// DirectoryEntry is one master of a Directory.
type DirectoryEntry struct {
	ID string `json:"id"`
	Endpoints
}

// Directory is the body of VerbMasters: every master of the crawl alive.
type Directory struct {
	Masters []DirectoryEntry `json:"masters"`
}
