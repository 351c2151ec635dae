// Package zsock holds the few ZeroMQ helpers master and worker share: socket
// construction with explicit linger, non-blocking receive loops, and the
// inproc waker that lets other goroutines interrupt a socket-owning loop's
// poll (a zmq socket belongs to exactly one goroutine).
package zsock

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// New creates a socket of type t in ctx with the given linger.
func New(ctx *zmq.Context, t zmq.Type, linger time.Duration) (*zmq.Socket, error) {
	s, err := ctx.NewSocket(t)
	if err != nil {
		return nil, fmt.Errorf("creating %v socket: %w", t, err)
	}
	if err := s.SetLinger(linger); err != nil {
		s.Close()
		return nil, fmt.Errorf("setting linger on %v socket: %w", t, err)
	}
	return s, nil
}

// IsAgain reports whether err means "nothing to receive / cannot send now".
func IsAgain(err error) bool {
	return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}

// IsTerm reports whether err means the context is being terminated.
func IsTerm(err error) bool {
	return zmq.AsErrno(err) == zmq.ETERM
}

// TryRecv receives one multipart message without blocking. It returns nil
// frames and a nil error when nothing is waiting.
func TryRecv(s *zmq.Socket) ([][]byte, error) {
	frames, err := s.RecvMessageBytes(zmq.DONTWAIT)
	if err != nil {
		if IsAgain(err) {
			return nil, nil
		}
		return nil, err
	}
	return frames, nil
}

// TryRecvUser is TryRecv that also returns the message's User-Id: what
// the ZAP handler said of its sender's connection (for CURVE, the
// sender's public key), or "".
func TryRecvUser(s *zmq.Socket) ([][]byte, string, error) {
	frames, meta, err := s.RecvMessageBytesWithMetadata(zmq.DONTWAIT, "User-Id")
	if err != nil {
		if IsAgain(err) {
			return nil, "", nil
		}
		return nil, "", err
	}
	return frames, meta["User-Id"], nil
}

// TrySend sends a multipart message without blocking. It reports false (and
// no error) when the socket cannot take it now (high-water mark, no peer).
func TrySend(s *zmq.Socket, frames [][]byte) (bool, error) {
	for i, f := range frames {
		flags := zmq.DONTWAIT
		if i < len(frames)-1 {
			flags |= zmq.SNDMORE
		}
		if _, err := s.SendBytes(f, flags); err != nil {
			if IsAgain(err) && i == 0 {
				return false, nil
			}
			return false, err
		}
	}
	return true, nil
}

var wakerSeq atomic.Uint64

// Waker wakes a socket-owning loop from any goroutine. The loop polls the
// PULL end (Socket); Wake pokes the PUSH end under a mutex.
type Waker struct {
	// pending is set by the Wake that sends a wake-up and cleared by
	// Drain once it has read the socket: while it is set, a wake-up is in
	// the socket or about to be, and later Wakes need not send (a
	// worker's fetchers each woke the loop with a cgo call per page, most
	// of them absorbed by a wake-up already pending).
	pending atomic.Bool

	mu     sync.Mutex
	push   *zmq.Socket
	pull   *zmq.Socket
	closed bool
}

// NewWaker creates a connected inproc pair in ctx. The caller's loop owns
// Socket() and must call Close from that loop when done.
func NewWaker(ctx *zmq.Context) (*Waker, error) {
	addr := fmt.Sprintf("inproc://spyder-waker-%d", wakerSeq.Add(1))
	pull, err := New(ctx, zmq.PULL, 0)
	if err != nil {
		return nil, err
	}
	if err := pull.Bind(addr); err != nil {
		pull.Close()
		return nil, fmt.Errorf("binding waker %s: %w", addr, err)
	}
	push, err := New(ctx, zmq.PUSH, 0)
	if err != nil {
		pull.Close()
		return nil, err
	}
	if err := push.SetSndhwm(1); err != nil {
		pull.Close()
		push.Close()
		return nil, err
	}
	if err := push.Connect(addr); err != nil {
		pull.Close()
		push.Close()
		return nil, fmt.Errorf("connecting waker %s: %w", addr, err)
	}
	return &Waker{push: push, pull: pull}, nil
}

// Socket is the end to poll for readability.
func (w *Waker) Socket() *zmq.Socket { return w.pull }

// Wake interrupts the loop's poll. A wake already pending absorbs this
// one: the loop has not drained it yet, so it will look at whatever the
// caller made ready before calling Wake.
func (w *Waker) Wake() {
	if !w.pending.CompareAndSwap(false, true) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if _, err := w.push.SendBytes([]byte{0}, zmq.DONTWAIT); err != nil {
		// Nothing was sent: the next Wake must try again.
		w.pending.Store(false)
	}
}

// Drain consumes pending wake-ups; called by the loop when Socket is
// readable, before it looks at what the wakers made ready.
func (w *Waker) Drain() {
	for {
		if _, err := w.pull.RecvBytes(zmq.DONTWAIT); err != nil {
			break
		}
	}
	// Cleared after reading, never before: a Wake between a clear and the
	// reads would have its wake-up read here while its flag stayed set,
	// and every later Wake would be absorbed by a wake-up no longer in
	// the socket. Cleared after, a Wake absorbed during the reads made its
	// work ready before the clear, and the loop looks at it next.
	w.pending.Store(false)
}

// Close closes both ends; later Wake calls do nothing.
func (w *Waker) Close() {
	w.mu.Lock()
	w.closed = true
	w.push.Close()
	w.mu.Unlock()
	w.pull.Close()
}

// PollTimeout clamps a poll timeout to at least 1ms: pebbe truncates to whole
// milliseconds and a 0 < t < 1ms timeout would turn the loop into a spin.
func PollTimeout(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return time.Millisecond
	}
	return d
}
