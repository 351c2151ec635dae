// sockets.go: the master's four sockets: binding them (with CURVE when
// configured), saying who can reach them, publishing on the management bus,
// and the bounds on what one loop turn reads from a socket.

package master

import (
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/zsock"
	"github.com/spyder-crawl/spyder/mgmt"
)

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

func (s *sockets) close() {
	s.push.Close()
	s.sub.Close()
	s.mpub.Close()
	s.msub.Close()
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

func framesSize(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

func (m *Master) publish(mpub *zmq.Socket, msg mgmt.Message) {
	if _, err := zsock.TrySend(mpub, msg.Frames()); err != nil {
		m.log.Warn().Err(err).Str("verb", msg.Verb).Msg("publishing a management message failed")
	}
}

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
