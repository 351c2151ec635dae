// client.go: the control client: a connection to a master's management
// bus that sends control requests (control.go) and waits for the replies.

package mgmt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/zsock"
)

// Client is a connection to a master's management bus that sends control
// requests and waits for their replies, as spyder's operator commands do.
type Client struct {
	zctx     *zmq.Context
	pub, sub *zmq.Socket
	id       string
	timeout  time.Duration
	where    string // the endpoints, for messages
	curve    bool   // connected with CURVE keys
}

// connectable turns a bind address (tcp://*:5552, tcp://0.0.0.0:5552), as
// the master's own configuration names its sockets, into one this machine
// can connect to, so that a command run beside the master (in its
// container) works with the master's settings.
func connectable(endpoint string) string {
	for _, bind := range []string{"tcp://*:", "tcp://0.0.0.0:"} {
		if rest, ok := strings.CutPrefix(endpoint, bind); ok {
			return "tcp://127.0.0.1:" + rest
		}
	}
	return endpoint
}

// DialOptions says where a master's management bus is and how to reach it.
type DialOptions struct {
	// MgmtMaster and MgmtWorker are the master's zeromq_mgmt_master and
	// zeromq_mgmt_worker; a bind address (tcp://*:5552) means this machine.
	MgmtMaster, MgmtWorker string
	// ServerPublicKey and SecretKey are the CURVE keys (key files or
	// keys): the master's public key and the client's own secret key.
	// Both empty: no CURVE.
	ServerPublicKey, SecretKey string
	// Timeout bounds the wait for each reply.
	Timeout time.Duration
}

// Dial joins the master's management bus as a control client (a sender of
// control requests). Nothing is sent until Request.
func Dial(o DialOptions) (*Client, error) {
	mgmtMaster, mgmtWorker := connectable(o.MgmtMaster), connectable(o.MgmtWorker)
	serverKey, own, secure, err := curve.ClientKeys(o.ServerPublicKey, o.SecretKey)
	if err != nil {
		return nil, err
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("creating zmq context: %w", err)
	}
	c := &Client{zctx: zctx, id: crawluri.Identity(RoleControl), timeout: o.Timeout, curve: secure,
		where: fmt.Sprintf("%s and %s", mgmtMaster, mgmtWorker)}
	secureClient := func(so *zmq.Socket) error {
		if !secure {
			return nil
		}
		return curve.Client(so, serverKey, own)
	}
	if c.sub, err = zsock.New(zctx, zmq.SUB, 0); err == nil {
		if err = c.sub.SetSubscribe(TopicTo + c.id); err == nil {
			if err = secureClient(c.sub); err == nil {
				err = c.sub.Connect(mgmtMaster)
			}
		}
	}
	if err == nil {
		if c.pub, err = zsock.New(zctx, zmq.PUB, 0); err == nil {
			if err = secureClient(c.pub); err == nil {
				err = c.pub.Connect(mgmtWorker)
			}
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to the master's management bus (%s): %w", c.where, err)
	}
	return c, nil
}

// Close leaves the bus.
func (c *Client) Close() {
	for _, so := range []*zmq.Socket{c.pub, c.sub} {
		if so != nil {
			so.Close()
		}
	}
	c.zctx.Term()
}

// ErrNoMaster is wrapped by Request's error when no master answered.
var ErrNoMaster = errors.New("no master answered")

// Request sends a control request (verb, with req; its ID is set here)
// until the master's reply to it arrives or the timeout passes; a reply
// that refuses is an error carrying the master's reason.
// The bus may lose the first messages of a new peer; repeating is safe
// because the master answers a repeated request ID without acting again.
func (c *Client) Request(verb string, req Request) (Reply, error) {
	req.ID = NewRequestID()
	msg := New(TopicControl, c.id, verb, req)
	poller := zmq.NewPoller()
	poller.Add(c.sub, zmq.POLLIN)
	deadline := time.Now().Add(c.timeout)
	for nextSend := time.Now(); time.Now().Before(deadline); {
		if !time.Now().Before(nextSend) {
			if _, err := zsock.TrySend(c.pub, msg.Frames()); err != nil {
				return Reply{}, fmt.Errorf("sending %s: %w", verb, err)
			}
			nextSend = time.Now().Add(200 * time.Millisecond)
		}
		if _, err := poller.Poll(50 * time.Millisecond); err != nil {
			return Reply{}, fmt.Errorf("waiting for the master: %w", err)
		}
		for {
			frames, err := zsock.TryRecv(c.sub)
			if err != nil {
				return Reply{}, fmt.Errorf("receiving the master's reply: %w", err)
			}
			if frames == nil {
				break
			}
			in, err := Parse(frames)
			if err != nil || in.Topic != TopicTo+c.id || in.Verb != VerbReply {
				continue // not for us (a SUB matches topics by prefix)
			}
			var reply Reply
			if err := in.Decode(&reply); err != nil || reply.ID != req.ID {
				continue
			}
			if !reply.OK {
				return reply, fmt.Errorf("master %s refused %s: %s", in.Identity, verb, reply.Error)
			}
			return reply, nil
		}
	}
	hint := "is it running, and are these its zeromq_mgmt_master and zeromq_mgmt_worker? A master with CURVE answers only keys it allows: curve_server_public_key, curve_secret_key"
	if c.curve {
		hint = "is it running, are these its zeromq_mgmt_master and zeromq_mgmt_worker, and is this command's public key in its curve_allowed_workers?"
	}
	return Reply{}, fmt.Errorf("%w on %s within %v (%s)", ErrNoMaster, c.where, c.timeout, hint)
}
