// capture.go: the bytes of an HTTP exchange as they crossed the
// connection, for archive-grade WARC records.

package worker

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync"
	"time"
)

// A capture collects what one fetch wrote to and read from its
// connection: the request as sent and the response as received (status
// line, header names in their order and case, repeated headers, the body
// with its Content-Encoding and chunking). A WARC record rebuilt from
// net/http's parsed response loses all of those; archives (Heritrix,
// warcprox, Brozzler) record the wire bytes.
//
// A fetch that follows redirects keeps the last hop's exchange: the one
// whose response becomes the result.
type capture struct {
	mu       sync.Mutex
	conn     *recordingConn // the connection recording into it, if any
	request  []byte
	response []byte
	ip       string // the address connected to (a proxy's, through one)
	// limit bounds response: max_content_length plus room for the head;
	// past it the response is cut (the body is cut there anyway).
	limit int
	cut   bool
}

// maxCapturedHead is what a response head may take in a capture beyond the
// body's limit: a longer head is cut, and its record marked truncated.
const maxCapturedHead = 1 << 20

// trace attaches cp to each connection its request gets.
func (cp *capture) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		rc, _ := info.Conn.(*recordingConn)
		cp.mu.Lock()
		old := cp.conn
		cp.conn, cp.request, cp.response, cp.ip, cp.cut = rc, cp.request[:0], cp.response[:0], "", false
		if rc != nil {
			if addr, ok := rc.RemoteAddr().(*net.TCPAddr); ok {
				cp.ip = addr.IP.String()
			}
		}
		cp.mu.Unlock()
		if old != nil && old != rc {
			old.detach(cp)
		}
		if rc != nil {
			rc.attach(cp)
		}
	}}
}

// finish stops recording (the response has been read, or abandoned) and
// reports whether the exchange was recorded: not when the request went
// through a connection the fetcher does not wrap (TLS through a proxy).
func (cp *capture) finish() bool {
	cp.mu.Lock()
	rc := cp.conn
	cp.conn = nil
	cp.mu.Unlock()
	if rc == nil {
		return false
	}
	rc.detach(cp)
	return len(cp.request) > 0 && len(cp.response) > 0
}

func (cp *capture) wrote(p []byte) {
	cp.mu.Lock()
	cp.request = append(cp.request, p...)
	cp.mu.Unlock()
}

func (cp *capture) read(p []byte) {
	cp.mu.Lock()
	if room := cp.limit - len(cp.response); room < len(p) {
		p, cp.cut = p[:max(room, 0)], true
	}
	cp.response = append(cp.response, p...)
	cp.mu.Unlock()
}

// recordingConn is a connection (plain, or TLS from its plaintext side)
// that copies its traffic into the capture of the request using it. A
// kept-alive connection serves one request at a time: each fetch attaches
// its capture when it gets the connection (GotConn), before its request
// is written, and the response is complete when its body has been read.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	cap *capture
}

func (c *recordingConn) attach(cp *capture) {
	c.mu.Lock()
	c.cap = cp
	c.mu.Unlock()
}

// detach stops recording into cp, unless another fetch has the connection
// by now.
func (c *recordingConn) detach(cp *capture) {
	c.mu.Lock()
	if c.cap == cp {
		c.cap = nil
	}
	c.mu.Unlock()
}

func (c *recordingConn) current() *capture {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cap
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if cp := c.current(); cp != nil {
			cp.read(p[:n])
		}
	}
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) {
	if cp := c.current(); cp != nil {
		cp.wrote(p)
	}
	return c.Conn.Write(p)
}

// dialFunc is a DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// recordingDial wraps every connection dial makes.
func recordingDial(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &recordingConn{Conn: conn}, nil
	}
}

// recordingTLSDial makes the TLS connections of HTTPS requests itself, so
// that what it records is the plaintext: the transport's own TLS would
// wrap the recording connection and leave it the ciphertext. HTTP/2 is
// not offered (a custom TLS dial turns it off in net/http): a WARC
// response record holds an HTTP/1.x message.
// The handshake is bounded by timeout, as the transport's own is by
// TLSHandshakeTimeout.
func recordingTLSDial(dial dialFunc, cfg *tls.Config, timeout time.Duration) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			raw.Close()
			return nil, err
		}
		c := cfg.Clone()
		if c.ServerName == "" {
			c.ServerName = host
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		tc := tls.Client(raw, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return &recordingConn{Conn: tc}, nil
	}
}
