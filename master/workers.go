// workers.go: the registry of workers: announced, active, gone; their
// heartbeats and when they are lost.

package master

import (
	"sort"
	"time"

	"github.com/spyder-crawl/spyder/mgmt"
)

// The master's record of its workers, from their announcements and
// heartbeats on the management bus (it lived in the wire package).

// workerState is where a worker is in its life as the master sees it.
type workerState int

const (
	// workerActive workers count towards dispatch capacity.
	workerActive workerState = iota
	// workerGone workers acknowledged a quit; terminal and clean.
	workerGone
	// workerLost workers stopped heartbeating; terminal and unclean.
	workerLost
)

func (s workerState) String() string {
	switch s {
	case workerActive:
		return "active"
	case workerGone:
		return "gone"
	case workerLost:
		return "lost"
	}
	return "unknown"
}

// workerRecord is the master's record of one worker process.
type workerRecord struct {
	ID         string
	State      workerState
	FirstSeen  time.Time
	LastSeen   time.Time
	MaxClients int
	InFlight   int   // as last reported by the worker
	Done       int64 // as last reported by the worker
	Errors     int64 // as last reported by the worker
	// Rate is the worker's results per second, smoothed over its
	// heartbeats.
	Rate float64
}

// workerRegistry tracks workers from their announcements and heartbeats. A worker
// silent for longer than the liveness timeout is lost. Not safe for concurrent
// use: the master's loop owns it.
type workerRegistry struct {
	timeout time.Duration
	workers map[string]*workerRecord
	live    int
}

// newWorkerRegistry returns a registry that declares a worker lost after timeout
// without a message from it.
func newWorkerRegistry(timeout time.Duration) *workerRegistry {
	return &workerRegistry{timeout: timeout, workers: make(map[string]*workerRecord)}
}

// Seen records an announcement or heartbeat from id. It returns the worker
// and whether it just became active (first message, or back after being
// lost). A worker that acknowledged a quit stays gone.
func (r *workerRegistry) Seen(id string, now time.Time, a mgmt.Announce) (w *workerRecord, activated bool) {
	w = r.workers[id]
	if w == nil {
		w = &workerRecord{ID: id, FirstSeen: now, State: workerLost}
		r.workers[id] = w
	}
	if w.State == workerGone {
		return w, false
	}
	if a.MaxClients > 0 {
		w.MaxClients = a.MaxClients
	}
	if dt := now.Sub(w.LastSeen).Seconds(); !w.LastSeen.IsZero() && dt > 0 && a.Done >= w.Done {
		// An exponential moving average over about five heartbeats.
		w.Rate += (float64(a.Done-w.Done)/dt - w.Rate) * min(dt/5, 1)
	}
	w.LastSeen = now
	w.InFlight, w.Done, w.Errors = a.InFlight, a.Done, a.Errors
	if w.State != workerActive {
		w.State = workerActive
		r.live++
		return w, true
	}
	return w, false
}

// QuitAck marks id gone. It reports whether id was active.
func (r *workerRegistry) QuitAck(id string, now time.Time) bool {
	w := r.workers[id]
	if w == nil {
		r.workers[id] = &workerRecord{ID: id, FirstSeen: now, LastSeen: now, State: workerGone}
		return false
	}
	wasActive := w.State == workerActive
	if wasActive {
		r.live--
	}
	w.State, w.LastSeen = workerGone, now
	return wasActive
}

// Revoke marks id lost at once (its CURVE key was revoked). It reports
// whether id was active.
func (r *workerRegistry) Revoke(id string, now time.Time) bool {
	w := r.workers[id]
	if w == nil || w.State != workerActive {
		return false
	}
	w.State, w.LastSeen = workerLost, now
	r.live--
	return true
}

// Expire marks every active worker silent since before now-timeout as lost
// and returns them.
func (r *workerRegistry) Expire(now time.Time) []*workerRecord {
	var lost []*workerRecord
	for _, w := range r.workers {
		if w.State == workerActive && now.Sub(w.LastSeen) > r.timeout {
			w.State = workerLost
			r.live--
			lost = append(lost, w)
		}
	}
	return lost
}

// NextExpiry is the earliest moment at which Expire could find a lost worker,
// or the zero time when no worker is active.
func (r *workerRegistry) NextExpiry() time.Time {
	var next time.Time
	for _, w := range r.workers {
		if w.State != workerActive {
			continue
		}
		if t := w.LastSeen.Add(r.timeout); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Get returns a snapshot of worker id, and whether it is known.
func (r *workerRegistry) Get(id string) (workerRecord, bool) {
	w := r.workers[id]
	if w == nil {
		return workerRecord{}, false
	}
	return *w, true
}

// Live is the number of active workers.
func (r *workerRegistry) Live() int { return r.live }

// Workers returns a snapshot of every worker ever seen, ordered by identity.
func (r *workerRegistry) Workers() []workerRecord {
	out := make([]workerRecord, 0, len(r.workers))
	for _, w := range r.workers {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
