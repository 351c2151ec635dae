// loop.go: the event loop. One turn is a list of steps: the store's health,
// the stop conditions, the timers, the drain or a dispatch, the output and
// the group commit, then a poll of the sockets and what they hold.

package master

import (
	"context"
	"fmt"
	"runtime"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/internal/zsock"
	"github.com/spyder-crawl/spyder/mgmt"
)

// timer is a step the loop runs by itself, every so often.
type timer struct {
	every time.Duration
	next  time.Time
	// active reports whether the timer runs at all now (nil: always).
	active func() bool
	run    func(now time.Time) error
}

func (t *timer) on() bool { return t.active == nil || t.active() }

// quitEvery is how often quit is sent again to workers that were asked to
// quit and have not acknowledged.
const quitEvery = 250 * time.Millisecond

// startTimers sets up the loop's timers.
func (m *Master) startTimers(socks *sockets, now time.Time) {
	heartbeat := &timer{every: m.s.HeartbeatInterval, next: now, run: func(time.Time) error {
		m.publish(socks.mpub, mgmt.New(mgmt.TopicMaster, m.id, mgmt.VerbHeartbeat, nil))
		m.publishDirectory(socks.mpub)
		return nil
	}}
	housekeeping := &timer{every: min(time.Second, m.s.HeartbeatInterval), next: now.Add(time.Second), run: func(now time.Time) error {
		if err := m.revokeKeys(socks, now); err != nil {
			return err
		}
		m.expire(now)
		m.rate.sample(now, m.stats.results)
		m.peakRate = max(m.peakRate, m.rate.perSecond())
		m.dash.publish(m, now)
		m.followCrawl(now)
		return nil
	}}
	progress := &timer{every: m.s.MasterProgressInterval, next: now.Add(m.s.MasterProgressInterval),
		active: func() bool { return m.s.MasterProgressInterval > 0 },
		run:    func(now time.Time) error { m.report(now); return nil }}
	m.quits = &timer{every: quitEvery, next: now,
		active: func() bool { return m.mode == modeDraining || len(m.quitting) > 0 },
		run:    func(time.Time) error { m.sendQuits(socks.mpub); return nil }}
	m.timers = []*timer{heartbeat, housekeeping, progress, m.quits}
}

// runTimers runs the timers that are due.
func (m *Master) runTimers(now time.Time) error {
	for _, t := range m.timers {
		if !t.on() || now.Before(t.next) {
			continue
		}
		if err := t.run(now); err != nil {
			return err
		}
		t.next = now.Add(t.every)
	}
	return nil
}

func (m *Master) loop(ctx context.Context, socks *sockets) error {
	poller := zmq.NewPoller()
	pushID := poller.Add(socks.push, 0)
	poller.Add(socks.sub, zmq.POLLIN)
	poller.Add(socks.msub, zmq.POLLIN)
	poller.Add(m.waker.Socket(), zmq.POLLIN)

	now := time.Now()
	m.started, m.lastReport.at = now, now
	m.startTimers(socks, now)
	for {
		now = time.Now()
		m.watchStore(now)
		m.checkStop(ctx, now)
		if err := m.runTimers(now); err != nil {
			return err
		}
		if m.mode == modeDraining {
			if done, clean := m.drained(now); done {
				return m.finish(clean)
			}
		} else if m.canDispatch() {
			if err := m.dispatch(socks.push, now); err != nil {
				return err
			}
		}
		if err := m.commitTurn(now); err != nil {
			return err
		}
		if err := m.pollAndRead(poller, pushID, socks, now); err != nil {
			return err
		}
	}
}

// commitEvery is the shortest time between two commits while results
// flow. A turn often holds a result or two, and each commit is an
// fdatasync of the log and a rewrite of every queue record touched since
// the last one: on a crawl of 2,900 pages/s, a sixth of the master's CPU
// went to the syncs alone. Results wait at most this long to be durable
// (until then a kill fetches them again, as it would have a moment
// earlier); dispatch and the workers' credit do not wait for it.
const commitEvery = 5 * time.Millisecond

// commitTurn writes the output of the turns since the last commit, then
// commits the frontier (one fsync for their dispatches and results): a
// kill between the two repeats a line of output, never loses one. Output
// that does not reach the disk must not be committed as done: the turns
// are dropped like a failed commit, and their URLs are fetched again.
func (m *Master) commitTurn(now time.Time) error {
	// Only turns that changed something write; the others' commits are
	// no-ops and stay out of the latency histogram.
	wrote := m.unflushed || m.stats.dispatched != m.committedDispatched
	m.commitWaiting = wrote && m.mode != modeDraining && now.Sub(m.lastCommit) < commitEvery
	if m.commitWaiting {
		if m.metrics != nil {
			m.metrics.publish(m, now, false)
		}
		return nil
	}
	if wrote {
		m.lastCommit = now
	}
	m.committedDispatched = m.stats.dispatched
	start := time.Now()
	if m.unflushed && !m.store.down() {
		m.unflushed = false
		if err := m.flushSinks(); err != nil {
			if err := m.storeFailed(fmt.Errorf("writing the output: %w", err), now); err != nil {
				return err
			}
		}
	}
	if !m.store.down() {
		if err := m.frontier.Commit(); err != nil {
			if err := m.storeFailed(err, now); err != nil {
				return err
			}
		}
	}
	if m.metrics != nil {
		if wrote {
			m.metrics.commit.Observe(time.Since(start).Seconds())
		}
		m.metrics.publish(m, now, false)
	}
	return nil
}

// pollAndRead sleeps until a socket has something or the loop has
// something to do by itself, then reads what came.
func (m *Master) pollAndRead(poller *zmq.Poller, pushID int, socks *sockets, now time.Time) error {
	pushEvents := zmq.State(0)
	if m.pushFull && m.mode != modeDraining {
		pushEvents = zmq.POLLOUT
	}
	if _, err := poller.Update(pushID, pushEvents); err != nil {
		return fmt.Errorf("updating poller: %w", err)
	}
	// The poll is a cgo call that blocks. Goroutines this turn made
	// runnable (the store's commit pipeline, a sink's writer) would wait
	// in this P's queue until the runtime's monitor takes the P from the
	// blocked call, and a monitor that keeps taking Ps keeps waking every
	// 20 µs (a fifth of the master's perf samples in a crawl, 5 % of its
	// CPU time measured side by side). Yielding first lets them run, and
	// the monitor sleeps.
	runtime.Gosched()
	polled, err := poller.Poll(m.pollTimeout(now))
	if err != nil {
		return fmt.Errorf("polling: %w", err)
	}
	if m.allowed != nil {
		// Once a turn, before any message is read: a key removed from the
		// file is refused from this turn on (revoke.go).
		m.allowed.Refresh()
	}
	for _, p := range polled {
		switch p.Socket {
		case socks.sub:
			n, err := m.receiveResults(socks.sub)
			if err != nil {
				return err
			}
			m.unflushed = m.unflushed || n > 0
		case socks.msub:
			m.receiveMgmt(socks.msub, socks.mpub)
		case socks.push:
			m.pushFull = false
		case m.waker.Socket():
			m.waker.Drain()
			m.dash.takeActions(m, time.Now())
		}
	}
	return nil
}

// pollTimeout sleeps until the next thing the loop must do by itself: a
// timer, or the frontier's next due URL when one could go out.
func (m *Master) pollTimeout(now time.Time) time.Duration {
	next := now.Add(time.Second)
	for _, t := range m.timers {
		if t.on() && t.next.Before(next) {
			next = t.next
		}
	}
	if m.canDispatch() && !m.pushFull && m.credit() > m.inFlight() {
		if due := m.frontier.NextDue(now); !due.IsZero() && due.Before(next) {
			next = due
		}
	}
	if due := m.lastCommit.Add(commitEvery); m.commitWaiting && due.Before(next) {
		next = due
	}
	return zsock.PollTimeout(next.Sub(now))
}
