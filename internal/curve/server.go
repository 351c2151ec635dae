// server.go: the ZAP handler that admits CURVE clients by their key, and
// the client-side setup of a CURVE socket.

package curve

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/internal/zsock"
)

// Domain is the ZAP domain of spyder's sockets.
const Domain = "spyder"

// zapEndpoint is where libzmq sends ZAP requests (RFC 27), per context.
const zapEndpoint = "inproc://zeromq.zap.01"

// logEvery bounds how often one peer's refusals are logged: a refused
// client reconnects every 100 ms or so, on each of its sockets.
const logEvery = time.Minute

// Server authenticates the clients of a master's CURVE sockets. It answers
// ZAP requests in its own goroutine and watches each secured socket for
// handshakes that fail before ZAP is asked (a client without CURVE, or with
// the wrong server key). Both stop when the context is terminated.
type Server struct {
	pair  Pair
	allow *AllowList
	log   zerolog.Logger
	zctx  *zmq.Context

	refused  atomic.Int64
	monitors atomic.Int64

	mu     sync.Mutex
	logged map[string]time.Time // peer and reason -> last logged
}

// StartServer binds the ZAP handler in zctx. It must run before any socket
// of zctx is secured (a CURVE socket without a ZAP handler accepts anyone).
func StartServer(zctx *zmq.Context, pair Pair, allow *AllowList, log zerolog.Logger) (*Server, error) {
	s := &Server{pair: pair, allow: allow, log: log, zctx: zctx, logged: map[string]time.Time{}}
	rep, err := zsock.New(zctx, zmq.REP, 0)
	if err != nil {
		return nil, err
	}
	if err := rep.Bind(zapEndpoint); err != nil {
		rep.Close()
		return nil, fmt.Errorf("binding the ZAP handler: %w", err)
	}
	go s.serveZAP(rep)
	return s, nil
}

// Refused is the number of refused handshakes so far.
func (s *Server) Refused() int64 { return s.refused.Load() }

// Secure makes so a CURVE server in spyder's ZAP domain and watches its
// handshakes; call it before so binds. name is the setting of its address.
func (s *Server) Secure(so *zmq.Socket, name string) error {
	if err := so.SetCurveServer(1); err != nil {
		return fmt.Errorf("%s: CURVE server: %w", name, err)
	}
	if err := so.SetCurveSecretkey(s.pair.Secret); err != nil {
		return fmt.Errorf("%s: CURVE secret key: %w", name, err)
	}
	if err := so.SetZapDomain(Domain); err != nil {
		return fmt.Errorf("%s: ZAP domain: %w", name, err)
	}
	addr := fmt.Sprintf("inproc://spyder-curve-monitor-%d-%p", s.monitors.Add(1), s)
	events := zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED |
		zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
	if err := so.Monitor(addr, events); err != nil {
		return fmt.Errorf("%s: monitoring handshakes: %w", name, err)
	}
	pair, err := zsock.New(s.zctx, zmq.PAIR, 0)
	if err != nil {
		return err
	}
	if err := pair.Connect(addr); err != nil {
		pair.Close()
		return fmt.Errorf("%s: connecting the handshake monitor: %w", name, err)
	}
	go s.watch(pair, name)
	return nil
}

// serveZAP answers ZAP requests: 200 for an allowed key (the key itself
// as the User-Id, so that the master can tell whose messages it reads and
// refuse a revoked key's), 400 otherwise. Anything but a well-formed CURVE request in our
// domain is refused too.
func (s *Server) serveZAP(rep *zmq.Socket) {
	defer rep.Close()
	for {
		req, err := rep.RecvMessage(0)
		if err != nil {
			if zsock.IsTerm(err) {
				return
			}
			s.log.Error().Err(err).Msg("ZAP handler: receiving a request")
			continue
		}
		if len(req) < 6 {
			// Not a request libzmq would send; a REP must still answer.
			_, _ = rep.SendMessage("1.0", "", "500", "malformed ZAP request", "", "")
			continue
		}
		version, id, domain, address, mechanism := req[0], req[1], req[2], req[3], req[5]
		status, text, user, refusedKey := "400", "", "", ""
		switch {
		case version != "1.0":
			text = "unsupported ZAP version"
		case domain != Domain:
			text = "unknown ZAP domain " + domain
		case mechanism != "CURVE" || len(req) != 7 || len(req[6]) != 32:
			text = "CURVE required"
		default:
			key := zmq.Z85encode(req[6])
			if _, ok := s.allow.Lookup(key); !ok {
				text, refusedKey = "unknown CURVE key", key
				break
			}
			status, text, user = "200", "OK", key
		}
		if status != "200" {
			s.refuse(address, text, refusedKey)
		}
		if _, err := rep.SendMessage(version, id, status, text, user, ""); err != nil && zsock.IsTerm(err) {
			return
		}
	}
}

// watch reads one socket's handshake events. A handshake that fails on the
// protocol (no CURVE, a wrong server key) never reaches ZAP, and its event
// carries no peer: the peer comes from the connection's accept event (the
// file descriptor, asked at once for its peer address) and the disconnect
// that follows the failure.
func (s *Server) watch(pair *zmq.Socket, name string) {
	defer pair.Close()
	peers := map[int]string{}
	failed := ""
	for {
		ev, _, value, err := pair.RecvEvent(0)
		if err != nil {
			if zsock.IsTerm(err) {
				return
			}
			continue
		}
		switch ev {
		case zmq.EVENT_ACCEPTED:
			peers[value] = peerOf(value)
		case zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
			failed = protocolError(value)
		case zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			failed = "handshake broken off (a client without CURVE keys?)"
		case zmq.EVENT_HANDSHAKE_SUCCEEDED, zmq.EVENT_HANDSHAKE_FAILED_AUTH:
			failed = "" // accepted, or refused by ZAP, which said so
		case zmq.EVENT_DISCONNECTED:
			if failed != "" {
				peer := peers[value]
				if peer == "" {
					peer = "unknown"
				}
				s.refuse(peer, failed+" on "+name, "")
				failed = ""
			}
			delete(peers, value)
		}
	}
}

// refuse counts a refused handshake and logs it, once a minute per peer
// host and reason.
func (s *Server) refuse(peer, reason, key string) {
	s.refused.Add(1)
	host := peer
	if h, _, err := net.SplitHostPort(peer); err == nil {
		host = h
	}
	now := time.Now()
	s.mu.Lock()
	k := host + "\x00" + reason + "\x00" + key
	last, seen := s.logged[k]
	if !seen || now.Sub(last) >= logEvery {
		s.logged[k] = now
	}
	if len(s.logged) > 10000 { // strangers from everywhere: forget, log again
		clear(s.logged)
	}
	s.mu.Unlock()
	if seen && now.Sub(last) < logEvery {
		return
	}
	ev := s.log.Warn().Str("event", "curve_refused").Str("peer", peer).Str("reason", reason)
	if key != "" {
		ev = ev.Str("key", key)
	}
	ev.Int64("refused_total", s.refused.Load()).Msg("refused a client: it gets nothing and nothing it sends is applied (repeats from this peer are logged once a minute)")
}

// peerOf is the peer address of an accepted connection's descriptor.
func peerOf(fd int) string {
	sa, err := syscall.Getpeername(fd)
	if err != nil {
		return ""
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), fmt.Sprint(a.Port))
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), fmt.Sprint(a.Port))
	}
	return ""
}

func protocolError(code int) string {
	switch code {
	case 0x11000002:
		return "no CURVE (a client without CURVE keys, or another mechanism)"
	case 0x11000001:
		return "CURVE handshake failed (a client with another server key?)"
	}
	return fmt.Sprintf("handshake failed (ZMTP error %#x)", code)
}

// Client makes so a CURVE client of the server whose public key is
// serverPublic, with the client's own pair.
func Client(so *zmq.Socket, serverPublic string, own Pair) error {
	if err := so.SetCurveServerkey(serverPublic); err != nil {
		return fmt.Errorf("CURVE server key: %w", err)
	}
	if err := so.SetCurvePublickey(own.Public); err != nil {
		return fmt.Errorf("CURVE public key: %w", err)
	}
	if err := so.SetCurveSecretkey(own.Secret); err != nil {
		return fmt.Errorf("CURVE secret key: %w", err)
	}
	return nil
}
