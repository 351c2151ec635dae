// revoke.go: CURVE key revocation: messages checked against the allowed
// keys, revoked workers dropped, sockets rebound.

package master

import (
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/zsock"
)

// Revoking a CURVE key (removing it from curve_allowed_workers) cuts its
// holder off at once: nothing it sends is applied from the moment the file
// changed, its worker is dropped and its URLs go back to the queue, and
// its connections on every socket are closed, so that it gets no more URLs
// either (its reconnection is refused by ZAP).

// take reads one message from so without waiting, with the CURVE key it
// came with ("" without CURVE).
func (m *Master) take(so *zmq.Socket) ([][]byte, string, error) {
	if m.allowed == nil {
		frames, err := zsock.TryRecv(so)
		return frames, "", err
	}
	return zsock.TryRecvUser(so)
}

// revokedSender reports, and counts as a drop, a message whose sender's
// key is no longer allowed (the loop looks at the file once a turn, before
// it reads a message: a revocation holds from the turn the file changed).
func (m *Master) revokedSender(key string) bool {
	if m.allowed == nil || m.allowed.Has(key) {
		return false
	}
	m.drop("curve_revoked", fmt.Errorf("a message from revoked key %s", key))
	return true
}

// revokeKeys ends the sessions of the keys revoked since it last looked:
// their workers are dropped and their URLs queued again, and every
// connection to the master's sockets is closed. libzmq cannot close one
// peer's connection, but unbinding an endpoint closes every connection
// accepted through it (zeromq/libzmq#3317); the allowed workers reconnect
// at once and are let in again, the revoked key is refused.
func (m *Master) revokeKeys(socks *sockets, now time.Time) error {
	if m.allowed == nil {
		return nil
	}
	revoked := m.allowed.TakeRevoked()
	if len(revoked) == 0 {
		return nil
	}
	keys := map[string]curve.Revoked{}
	for _, r := range revoked {
		keys[r.Key] = r
	}
	for id, key := range m.workerKeys {
		r, ok := keys[key]
		if !ok {
			continue
		}
		delete(m.workerKeys, id)
		m.registry.Revoke(id, now)
		urls := m.release(now, func(o *outstandingLease) bool { return o.worker == id })
		m.log.Warn().Str("event", "curve_revoked").Str("worker", id).Str("key", r.Key).Str("name", r.Name).
			Int("released", len(urls)).Strs("urls", urls[:min(len(urls), 20)]).
			Msg("worker's CURVE key revoked: it is cut off and its URLs are queued again")
	}
	for _, r := range revoked {
		m.log.Warn().Str("event", "curve_key_revoked").Str("key", r.Key).Str("name", r.Name).
			Msg("CURVE key removed from curve_allowed_workers: its sessions are closed and it is refused from now on")
	}
	if err := socks.rebind(); err != nil {
		return fmt.Errorf("closing the sessions of a revoked CURVE key: %w", err)
	}
	// Whatever was on its way through the closed connections is lost: URLs
	// not yet read by a worker, results not yet received. Every lease is
	// unclaimed again, so that what no worker lists in its next heartbeats
	// is queued again at once, not after master_lease_timeout.
	for _, o := range m.outstanding {
		o.worker, o.at = "", now
	}
	return nil
}

// rebind unbinds each socket's endpoint, which closes the connections
// accepted through it, and binds it again. The port is free again a moment
// after the unbind, which libzmq carries out in its I/O thread: the bind is
// tried for up to 2 s.
func (s *sockets) rebind() error {
	for i, b := range s.bound {
		if err := b.so.Unbind(b.bound); err != nil {
			return fmt.Errorf("unbinding %s: %w", b.bound, err)
		}
		var err error
		for try := 0; try < 100; try++ {
			if err = b.so.Bind(b.endpoint); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("binding %s again: %w", b.endpoint, err)
		}
		if s.bound[i].bound, err = b.so.GetLastEndpoint(); err != nil {
			return err
		}
	}
	return nil
}
