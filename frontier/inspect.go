// inspect.go: the read-only report of a state directory (spyder frontier
// inspect): queues, leases, one URL's record and history.

package frontier

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/urlx"
)

// Report is what Inspect finds in a state directory.
type Report struct {
	Dir       string        `json:"dir"`
	Stats     Stats         `json:"stats"`
	SeedHosts []string      `json:"seed_hosts"`
	Queues    []QueueReport `json:"queues"`
	Leases    []LeaseReport `json:"leases"`
	URL       *URLReport    `json:"url,omitempty"`
}

// QueueReport describes one politeness queue (a host, or the whole crawl
// for single_host).
type QueueReport struct {
	Name        string    `json:"name"`
	Queued      int64     `json:"queued"`
	NextAllowed time.Time `json:"next_allowed,omitzero"`
}

// LeaseReport is one lease that was outstanding when the master stopped;
// the next master queues its URL again.
type LeaseReport struct {
	ID       int64     `json:"id"`
	URL      string    `json:"url"`
	Deadline time.Time `json:"deadline"`
}

// URLReport is everything the store knows of one URL.
type URLReport struct {
	URL      string         `json:"url"`
	Known    bool           `json:"known"`
	State    string         `json:"state,omitempty"`
	Status   int            `json:"last_status,omitempty"`
	Attempts int            `json:"failed_attempts"`
	Level    int            `json:"revisit_level"`
	Due      time.Time      `json:"due,omitempty"`
	ETag     string         `json:"etag,omitempty"`
	LastMod  string         `json:"last_modified,omitempty"`
	Capture  string         `json:"warc_capture,omitempty"`
	History  []HistoryEntry `json:"history,omitempty"` // the latest 16 events
}

// HistoryEntry is one event in a URL's life.
type HistoryEntry struct {
	At    time.Time `json:"at"`
	Event string    `json:"event"`
	Value int64     `json:"value,omitempty"` // the lease or the status
}

// Inspect reads a state directory without changing it. It fails while a
// master holds the directory. url, when not empty, asks for that URL's
// record and history; maxLeases bounds the leases listed.
func Inspect(dir, url string, maxLeases int, canon urlx.Canonicalization) (*Report, error) {
	f, done, err := openStopped(dir, "inspect")
	if err != nil {
		return nil, err
	}
	defer done()
	db := f.db
	r := &Report{Dir: dir, Stats: f.stats}
	if r.SeedHosts, err = f.SeedHosts(); err != nil {
		return nil, err
	}
	err = scan(db, pfxHost, func(k, v []byte) error {
		q, allowed, err := f.decodeQueueRecord(k, v)
		if err != nil {
			return err
		}
		r.Queues = append(r.Queues, QueueReport{Name: q.name, NextAllowed: fromUnixNano(allowed), Queued: q.queued})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(r.Queues, func(i, j int) bool {
		if r.Queues[i].Queued != r.Queues[j].Queued {
			return r.Queues[i].Queued > r.Queues[j].Queued
		}
		return r.Queues[i].Name < r.Queues[j].Name
	})
	// A lease record lists a dispatch batch; its URLs whose queue entries
	// are still stored were in flight when the master stopped. They are
	// counted as such here, and the next master queues them again.
	inFlight := map[urlx.Key]int64{} // URL -> its lease
	err = scan(db, pfxLease, func(k, v []byte) error {
		entries, err := decodeLeaseRecord(k, v)
		if err != nil {
			return err
		}
		for _, e := range entries {
			qv, closer, err := db.Get(e.qkey)
			if errors.Is(err, pebble.ErrNotFound) {
				continue // its result was applied
			}
			if err != nil {
				return err
			}
			var key urlx.Key
			copy(key[:], qv)
			rec, err := decodeURLRecord(qv[16:])
			closer.Close()
			if err != nil {
				return err
			}
			inFlight[key] = e.id
			r.Stats.InFlight++
			if rec.state == stateScheduled {
				r.Stats.Scheduled--
			} else {
				r.Stats.Queued--
			}
			if len(r.Leases) < maxLeases {
				r.Leases = append(r.Leases, LeaseReport{ID: e.id, URL: rec.url, Deadline: e.deadline})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if url != "" {
		if r.URL, err = f.urlReport(url, canon); err != nil {
			return nil, err
		}
		if id, ok := inFlight[urlx.KeyOf(r.URL.URL)]; ok {
			// Its record, and so its history, was last written before
			// the dispatch.
			r.URL.State = fmt.Sprintf("in flight (lease %d) when the master stopped; queued again at its next start", id)
		}
	}
	return r, nil
}

func (f *Durable) urlReport(raw string, canon urlx.Canonicalization) (*URLReport, error) {
	u, err := canon.Normalize(raw)
	if err != nil {
		return nil, err
	}
	k := urlx.KeyOf(u)
	rep := &URLReport{URL: u}
	rec, err := f.getRecord(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	rep.Known, rep.State, rep.Status = true, stateNames[rec.state], int(rec.status)
	rep.Attempts, rep.Level, rep.ETag, rep.LastMod = int(rec.attempts), int(rec.level), rec.etag, rec.lastMod
	rep.Capture = rec.capture
	if rec.state == stateQueued || rec.state == stateScheduled {
		rep.Due = time.Unix(0, rec.due)
	}
	for _, e := range rec.history {
		rep.History = append(rep.History, HistoryEntry{At: time.Unix(0, e.at), Value: e.value, Event: e.describe()})
	}
	return rep, nil
}

// DescribeEvent names an event of a URL's history (kind and the state it
// left the URL in), as both stores record them.
func DescribeEvent(kind, state byte) string { return event{kind: kind, state: state}.describe() }

// StateName names a URL's state as both stores number them.
func StateName(state byte) string {
	if n, ok := stateNames[state]; ok {
		return n
	}
	return fmt.Sprintf("state %d", state)
}

func (e event) describe() string {
	switch e.kind {
	case evAddedSeed:
		return "added as seed"
	case evAddedLink:
		return "added as link"
	case evDispatched:
		return "dispatched"
	case evResult:
		return "result: " + stateNames[e.state]
	case evLeaseEnded:
		return "lease ended without a result; queued again"
	}
	return fmt.Sprintf("event %d", e.kind)
}

// openStopped opens a stopped master's state directory read-only, for a
// command (what) that reads it, with its counters loaded; done closes it.
// It fails while a master holds the directory.
func openStopped(dir, what string) (_ *Durable, done func(), err error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("state directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; %s reads a stopped master's state", err, what)
	}
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: newPebbleLogger(zerolog.Logger{}), ErrorIfNotExists: true})
	if err != nil {
		lock.unlock()
		return nil, nil, fmt.Errorf("opening state directory %s: %w", dir, err)
	}
	f := &Durable{db: db, b: db.NewIndexedBatch(), leases: map[int64]*leaseState{}}
	f.queues.at = f.queueAt
	done = func() {
		f.b.Close()
		db.Close()
		lock.unlock()
	}
	if err := f.loadMeta(); err != nil {
		done()
		return nil, nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	return f, done, nil
}

// scan calls fn for every key with the one-byte prefix p.
func scan(db *pebble.DB, p byte, fn func(k, v []byte) error) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}
