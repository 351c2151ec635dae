// message.go: the data message ([identity, CrawlUri] frames) and process
// identities (role:host:pid).

package crawluri

import (
	"fmt"
	"os"
	"regexp"
)

// DataMessage is the envelope of every data leg (master PUSH -> worker PULL,
// worker PUB -> master SUB): frame 0 is the master's identity, frame 1 the
// Thrift-encoded CrawlUri. On the PUB leg frame 0 doubles as the topic.
type DataMessage struct {
	Identity string
	Curi     *CrawlUri
}

// Frames returns the two ZeroMQ frames of m.
func (m DataMessage) Frames() [][]byte {
	return [][]byte{[]byte(m.Identity), m.Curi.Marshal()}
}

// ParseDataMessage decodes the frames of a data message.
func ParseDataMessage(frames [][]byte) (DataMessage, error) {
	if len(frames) != 2 {
		return DataMessage{}, fmt.Errorf("%w: data message has %d frames, want 2", ErrMalformed, len(frames))
	}
	curi, err := Unmarshal(frames[1])
	if err != nil {
		return DataMessage{}, err
	}
	return DataMessage{Identity: string(frames[0]), Curi: curi}, nil
}

// Roles that prefix an identity.
const (
	RoleMaster = "master"
	RoleWorker = "worker"
)

// Identity returns spyder's process identity "<role>:<host>:<pid>".
func Identity(role string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s:%s:%d", role, host, os.Getpid())
}

var identityRE = regexp.MustCompile(`^[A-Za-z0-9._:@/-]{1,128}$`)

// ValidIdentity reports whether id is acceptable as a peer identity: 1 to 128
// characters from a conservative set, so identities are safe in logs, topics
// and file names.
func ValidIdentity(id string) bool {
	return identityRE.MatchString(id)
}
