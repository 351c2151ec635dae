package mgmt

import (
	"sort"
	"time"
)

// WorkerState is where a worker is in its life as the master sees it.
type WorkerState int

const (
	// Active workers count towards dispatch capacity.
	Active WorkerState = iota
	// Gone workers acknowledged a quit; terminal and clean.
	Gone
	// Lost workers stopped heartbeating; terminal and unclean.
	Lost
)

func (s WorkerState) String() string {
	switch s {
	case Active:
		return "active"
	case Gone:
		return "gone"
	case Lost:
		return "lost"
	}
	return "unknown"
}

// Worker is the master's record of one worker process.
type Worker struct {
	ID         string
	State      WorkerState
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

// Registry tracks workers from their announcements and heartbeats. A worker
// silent for longer than the liveness timeout is lost. Not safe for concurrent
// use: the master's loop owns it.
type Registry struct {
	timeout time.Duration
	workers map[string]*Worker
	live    int
}

// NewRegistry returns a registry that declares a worker lost after timeout
// without a message from it.
func NewRegistry(timeout time.Duration) *Registry {
	return &Registry{timeout: timeout, workers: make(map[string]*Worker)}
}

// Seen records an announcement or heartbeat from id. It returns the worker
// and whether it just became active (first message, or back after being
// lost). A worker that acknowledged a quit stays gone.
func (r *Registry) Seen(id string, now time.Time, a Announce) (w *Worker, activated bool) {
	w = r.workers[id]
	if w == nil {
		w = &Worker{ID: id, FirstSeen: now, State: Lost}
		r.workers[id] = w
	}
	if w.State == Gone {
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
	if w.State != Active {
		w.State = Active
		r.live++
		return w, true
	}
	return w, false
}

// QuitAck marks id gone. It reports whether id was active.
func (r *Registry) QuitAck(id string, now time.Time) bool {
	w := r.workers[id]
	if w == nil {
		r.workers[id] = &Worker{ID: id, FirstSeen: now, LastSeen: now, State: Gone}
		return false
	}
	wasActive := w.State == Active
	if wasActive {
		r.live--
	}
	w.State, w.LastSeen = Gone, now
	return wasActive
}

// Revoke marks id lost at once (its CURVE key was revoked). It reports
// whether id was active.
func (r *Registry) Revoke(id string, now time.Time) bool {
	w := r.workers[id]
	if w == nil || w.State != Active {
		return false
	}
	w.State, w.LastSeen = Lost, now
	r.live--
	return true
}

// Expire marks every active worker silent since before now-timeout as lost
// and returns them.
func (r *Registry) Expire(now time.Time) []*Worker {
	var lost []*Worker
	for _, w := range r.workers {
		if w.State == Active && now.Sub(w.LastSeen) > r.timeout {
			w.State = Lost
			r.live--
			lost = append(lost, w)
		}
	}
	return lost
}

// NextExpiry is the earliest moment at which Expire could find a lost worker,
// or the zero time when no worker is active.
func (r *Registry) NextExpiry() time.Time {
	var next time.Time
	for _, w := range r.workers {
		if w.State != Active {
			continue
		}
		if t := w.LastSeen.Add(r.timeout); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Get returns a snapshot of worker id, and whether it is known.
func (r *Registry) Get(id string) (Worker, bool) {
	w := r.workers[id]
	if w == nil {
		return Worker{}, false
	}
	return *w, true
}

// Live is the number of active workers.
func (r *Registry) Live() int { return r.live }

// Workers returns a snapshot of every worker ever seen, ordered by identity.
func (r *Registry) Workers() []Worker {
	out := make([]Worker, 0, len(r.workers))
	for _, w := range r.workers {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
