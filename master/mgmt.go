// mgmt.go: reading the management bus: workers' announcements,
// heartbeats and quit acknowledgements, and operators' control requests.

package master

import (
	"fmt"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/mgmt"
)

// receiveMgmt reads the management socket within one turn's budget:
// announcements and heartbeats, quit acknowledgements, control requests.
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
			if m.endsCrawl() {
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
