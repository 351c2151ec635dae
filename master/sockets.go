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

// sockets are the master's four sockets.
type sockets struct {
	push, sub, mpub, msub *zmq.Socket
	// bound lists each socket with the endpoint it was asked to bind and
	// the one it bound (a wildcard resolved), for rebind.
	bound []boundSocket
}

// boundSocket is a bound socket, for rebind.
type boundSocket struct {
	so              *zmq.Socket
	endpoint, bound string
}

// bind opens the four sockets, bound and (with CURVE) secured.
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
	specs := []zsock.Spec{
		{Dst: &socks.push, Type: zmq.PUSH, Name: "zeromq_master_push", Endpoint: s.ZeromqMasterPush, Bind: true,
			Setup: func(so *zmq.Socket) error { return so.SetSndhwm(s.ZeromqMasterPushHWM) }},
		{Dst: &socks.sub, Type: zmq.SUB, Name: "zeromq_master_sub", Endpoint: s.ZeromqMasterSub, Bind: true, Setup: func(so *zmq.Socket) error {
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
			return so.SetSubscribe(resultTopic(s.FrontierStore == "redis", m.id))
		}},
		{Dst: &socks.mpub, Type: zmq.PUB, Linger: time.Second, Name: "zeromq_mgmt_master", Endpoint: s.ZeromqMgmtMaster, Bind: true},
		{Dst: &socks.msub, Type: zmq.SUB, Name: "zeromq_mgmt_worker", Endpoint: s.ZeromqMgmtWorker, Bind: true, Setup: func(so *zmq.Socket) error {
			if err := so.SetMaxmsgsize(mgmt.MaxMessageSize); err != nil {
				return err
			}
			return so.SetSubscribe("")
		}},
	}
	var secure func(*zmq.Socket, string) error
	if m.auth != nil {
		secure = m.auth.Secure
	}
	if err := zsock.OpenAll(zctx, specs, secure); err != nil {
		return nil, err
	}
	for _, sp := range specs {
		last, err := (*sp.Dst).GetLastEndpoint()
		if err != nil {
			zsock.CloseAll(specs)
			return nil, fmt.Errorf("reading the endpoint %s bound: %w", sp.Name, err)
		}
		socks.bound = append(socks.bound, boundSocket{so: *sp.Dst, endpoint: sp.Endpoint, bound: last})
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

// framesSize is the bytes of a message's frames.
func framesSize(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += len(f)
	}
	return n
}

// publish sends a message on the management bus; a failure is logged
// (the bus is best effort: everything on it is repeated).
func (m *Master) publish(mpub *zmq.Socket, msg mgmt.Message) {
	if _, err := zsock.TrySend(mpub, msg.Frames()); err != nil {
		m.log.Warn().Err(err).Str("verb", msg.Verb).Msg("publishing a management message failed")
	}
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
