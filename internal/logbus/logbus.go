// Package logbus publishes a process's log records to a logsink over
// ZeroMQ and receives them there, as spyder's PUBHandler and logsink did:
// frames [topic, record] with topic "spyder.<role>.<LEVEL>" (e.g.
// "spyder.master.INFO"), the record being zerolog's JSON line.
//
// Publishing never blocks logging and never fails it: records wait in a
// bounded buffer until a logsink has subscribed (a PUB drops what it sends
// before that, and a process's first records are the ones that say it
// started), and are dropped, oldest first, when no logsink runs.
package logbus

import (
	"fmt"
	"strings"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/rs/zerolog"
)

// Topic is the topic of a record of role at level.
func Topic(role string, level zerolog.Level) string {
	name := strings.ToUpper(level.String())
	if level == zerolog.NoLevel {
		name = "INFO"
	}
	return "spyder." + role + "." + name
}

// maxBuffered bounds the records kept while no logsink is subscribed.
const maxBuffered = 1000

// Publisher is a zerolog.LevelWriter that publishes records on the bus.
type Publisher struct {
	mu         sync.Mutex
	ctx        *zmq.Context
	sock       *zmq.Socket
	role       string
	subscribed bool
	buffered   [][2][]byte
	dropped    int
}

// NewPublisher connects an XPUB socket to endpoint (the logsink binds).
// The XPUB tells when a logsink has subscribed.
func NewPublisher(endpoint, role string) (*Publisher, error) {
	ctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("zeromq_logging: %w", err)
	}
	sock, err := ctx.NewSocket(zmq.XPUB)
	if err == nil {
		_ = sock.SetLinger(500 * time.Millisecond) // for the last records at exit
		_ = sock.SetSndhwm(10000)
		err = sock.Connect(endpoint)
	}
	if err != nil {
		if sock != nil {
			sock.Close()
		}
		ctx.Term()
		return nil, fmt.Errorf("zeromq_logging %s: %w", endpoint, err)
	}
	return &Publisher{ctx: ctx, sock: sock, role: role}, nil
}

// Write implements io.Writer (records without a level go as INFO).
func (p *Publisher) Write(b []byte) (int, error) { return p.WriteLevel(zerolog.NoLevel, b) }

// WriteLevel implements zerolog.LevelWriter.
func (p *Publisher) WriteLevel(level zerolog.Level, b []byte) (int, error) {
	msg := [2][]byte{[]byte(Topic(p.role, level)), append([]byte(nil), b...)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sock == nil {
		return len(b), nil
	}
	if !p.subscribed && !p.checkSubscribed() {
		if len(p.buffered) == maxBuffered {
			p.buffered = p.buffered[1:]
			p.dropped++
		}
		p.buffered = append(p.buffered, msg)
		return len(b), nil
	}
	p.send(msg)
	return len(b), nil
}

// checkSubscribed reads a pending subscription from the XPUB (they arrive
// as messages on it) and, on the first one, sends what was buffered.
func (p *Publisher) checkSubscribed() bool {
	if sub, err := p.sock.RecvBytes(zmq.DONTWAIT); err == nil && len(sub) > 0 && sub[0] == 1 {
		p.subscribed = true
		for _, m := range p.buffered {
			p.send(m)
		}
		p.buffered = nil
	}
	return p.subscribed
}

func (p *Publisher) send(m [2][]byte) {
	if _, err := p.sock.SendBytes(m[0], zmq.SNDMORE|zmq.DONTWAIT); err != nil {
		p.dropped++
		return
	}
	if _, err := p.sock.SendBytes(m[1], zmq.DONTWAIT); err != nil {
		p.dropped++
	}
}

// Close sends what it can within the linger and releases the socket. A
// process that stops before a logsink subscribed waits up to a second for
// one, so that short runs reach the sink too.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sock == nil {
		return nil
	}
	if !p.subscribed && len(p.buffered) > 0 {
		poller := zmq.NewPoller()
		poller.Add(p.sock, zmq.POLLIN)
		if polled, err := poller.Poll(time.Second); err == nil && len(polled) > 0 {
			p.checkSubscribed()
		}
	}
	err := p.sock.Close()
	p.sock = nil
	if terr := p.ctx.Term(); err == nil {
		err = terr
	}
	return err
}
