// migrate_pebble.go: the Pebble store's side of a migration: a stopped
// master's state directory read out (DumpDir), and a new one written
// (NewDirSink).

package frontier

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/spyder-crawl/spyder/urlx"
)

// OpenDir opens the state directory of a stopped master for a
// migration (read-only, and locked until closed). Its queues come out in
// the order they would be dispatched; URLs that were in flight when the
// master stopped are returned ones.
func OpenDir(dir string) (Source, error) {
	f, done, err := openStopped(dir, "migrate")
	if err != nil {
		return nil, err
	}
	return &dirSource{f: f, done: done, dir: dir}, nil
}

type dirSource struct {
	f    *Durable
	done func()
	dir  string
}

// Close implements Source; closing again does nothing.
func (s *dirSource) Close() error {
	if s.done != nil {
		s.done()
		s.done = nil
	}
	return nil
}

func (s *dirSource) Dump(to Sink) (DumpInfo, error) {
	f := s.f
	info := DumpInfo{Seen: f.stats.Seen}
	seeds, err := f.SeedHosts()
	if err == nil {
		err = to.SeedHosts(seeds)
	}
	if err == nil {
		err = f.dumpHosts(to)
	}
	if err == nil {
		err = scan(f.db, pfxRobots, func(k, v []byte) error {
			var r RobotsRules
			if err := r.UnmarshalBinary(v); err != nil {
				return fmt.Errorf("robots.txt rules of %s: %w", k[1:], err)
			}
			return to.Robots(string(k[1:]), r)
		})
	}
	if err == nil {
		err = scan(f.db, pfxCookie, func(k, v []byte) error { return to.Cookie(string(k[1:]), string(v)) })
	}
	if err == nil {
		err = to.Counters(f.stats)
	}
	if err == nil {
		err = f.dumpURLs(to)
	}
	if err != nil {
		return info, fmt.Errorf("reading %s: %w", s.dir, err)
	}
	return info, nil
}

// dumpHosts reads the queue records (politeness clocks), the operators'
// delays and blocks, and the per-host counts. A single_host crawl's one
// clock is the whole crawl's, no host's: it is left behind.
func (f *Durable) dumpHosts(to Sink) error {
	hosts := map[string]*HostSnapshot{}
	host := func(name string) *HostSnapshot {
		h := hosts[name]
		if h == nil {
			h = &HostSnapshot{Host: name}
			hosts[name] = h
		}
		return h
	}
	byQueue := map[uint64]*HostSnapshot{}
	err := scan(f.db, pfxHost, func(k, v []byte) error {
		q, allowed, err := f.decodeQueueRecord(k, v)
		if err != nil || q.name == WholeCrawl {
			return err
		}
		h := host(q.name)
		h.NextAllowed = fromUnixNano(allowed)
		byQueue[q.id] = h
		return nil
	})
	if err != nil {
		return err
	}
	err = scan(f.db, pfxDelay, func(k, v []byte) error {
		d, err := decodeDelayRecord(k, v)
		if h := byQueue[d.queue]; err == nil && h != nil {
			h.Delay, h.HasDelay, h.HeldUntil = d.delay, d.hasDelay, d.blockedUntil
		}
		return err
	})
	if err != nil {
		return err
	}
	err = scan(f.db, pfxHostCount, func(k, v []byte) error {
		if len(v) == 8 {
			host(string(k[1:])).Admitted = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, h := range hosts {
		if err := to.Host(*h); err != nil {
			return err
		}
	}
	return nil
}

// dumpURLs reads the queues in order (each entry carries its URL's
// record), then the URLs no longer queued. A queued record without a
// queue entry, or the reverse, is a corrupt store: reported, not skipped.
func (f *Durable) dumpURLs(to Sink) error {
	inFlight := map[string]bool{} // queue entries of the last run's leases
	err := scan(f.db, pfxLease, func(k, v []byte) error {
		entries, err := decodeLeaseRecord(k, v)
		for _, e := range entries {
			inFlight[string(e.qkey)] = true
		}
		return err
	})
	if err != nil {
		return err
	}
	var entries, queuedRecords int64
	err = scan(f.db, pfxQueue, func(k, v []byte) error {
		if len(k) != 27 || len(v) < 16 {
			return fmt.Errorf("frontier store: corrupt queue entry")
		}
		rec, err := decodeURLRecord(v[16:])
		if err != nil {
			return err
		}
		u := rec.snapshot()
		if u.State != URLScheduled {
			u.State = URLQueued // (a record left in flight: queued again)
		}
		switch due := queueKeyDue(k); {
		case due <= returnedDue || inFlight[string(k)]:
			u.Returned, u.Due = true, time.Time{}
		case due <= newURLDue:
			u.Due = time.Time{}
		default:
			u.Due = time.Unix(0, due)
		}
		entries++
		return to.URL(&u)
	})
	if err != nil {
		return err
	}
	err = scan(f.db, pfxURL, func(k, v []byte) error {
		rec, err := decodeURLRecord(v)
		if err != nil {
			return err
		}
		if rec.state == stateQueued || rec.state == stateScheduled || rec.state == stateInFlight {
			queuedRecords++
			return nil // read from its queue entry
		}
		u := rec.snapshot()
		return to.URL(&u)
	})
	if err != nil {
		return err
	}
	if entries != queuedRecords {
		return fmt.Errorf("frontier store: %d URLs are queued but the queues hold %d entries (a corrupt store; nothing was left behind silently)", queuedRecords, entries)
	}
	return nil
}

// snapshot is the record as a store-neutral URL.
func (r *urlRecord) snapshot() URLSnapshot {
	u := URLSnapshot{
		URL: r.url, State: r.state, Status: r.status, Attempts: int(r.attempts), Level: int(r.level),
		Depth: int(r.depth), ETag: r.etag, LastModified: r.lastMod, WARCCapture: r.capture, Via: r.via, HopPath: r.hopPath,
		History: make([]Event, len(r.history)),
	}
	if r.state == stateQueued || r.state == stateScheduled {
		u.Due = time.Unix(0, r.due)
	}
	for i, e := range r.history {
		u.History[i] = Event{At: time.Unix(0, e.at), Value: e.value, Kind: e.kind, State: e.state}
	}
	u.Seed = len(r.history) > 0 && r.history[0].kind == evAddedSeed
	return u
}

// dirSink writes a migrated crawl into a new state directory.
type dirSink struct {
	f       Frontier
	d       *Durable
	now     time.Time
	pending int // URLs since the last commit
}

// NewDirSink opens the state directory opts.Dir, which must hold no
// crawl, as a frontier of class (single_host or multiple_host) to write a
// migrated crawl into.
func NewDirSink(class string, opts Options) (Sink, error) {
	// Politeness groups by IP address are made in memory when the crawl
	// runs; the store is the same either way, and writing it resolves
	// nothing.
	opts.QueueAssignment, opts.Resolver = "host_based", nil
	f, err := Open(class, opts)
	if err != nil {
		return nil, err
	}
	d, ok := StoreOf(f).(*Durable)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("frontier %q is not kept in a state directory", class)
	}
	if d.stats.Seen > 0 || d.queues.len() > 0 {
		f.Close()
		return nil, fmt.Errorf("state directory %s holds a crawl (%d URLs seen): migrate into an empty directory", opts.Dir, d.stats.Seen)
	}
	return &dirSink{f: f, d: d, now: time.Now()}, nil
}

func (s *dirSink) SeedHosts(hosts []string) error {
	for _, h := range hosts {
		if err := s.d.b.Set(append([]byte{pfxSeed}, h...), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

func (s *dirSink) Host(h HostSnapshot) error {
	d := s.d
	q := d.queue(d.cfg.queueOf(h.Host), s.now)
	if q.grp != nil {
		q.grp.wait(h.NextAllowed)
	} else {
		d.unjoined[q] = max(d.unjoined[q], unixNano(h.NextAllowed))
	}
	d.dirty[q] = struct{}{}
	if h.HasDelay {
		if err := d.SetHostDelay(h.Host, h.Delay, s.now); err != nil {
			return err
		}
	}
	if h.HeldUntil.After(s.now) {
		if err := d.BlockHost(h.Host, h.HeldUntil, s.now); err != nil {
			return err
		}
	}
	if h.Admitted > 0 {
		d.hostURLs[h.Host] = h.Admitted
		d.hostsCounted[h.Host] = struct{}{}
	}
	return nil
}

func (s *dirSink) Robots(origin string, rules RobotsRules) error {
	rec, err := rules.MarshalBinary()
	if err != nil {
		return err
	}
	return s.d.b.Set(robotsKey(origin), rec, nil)
}

func (s *dirSink) Cookie(key, value string) error { return s.d.SaveCookie(key, value) }

func (s *dirSink) Counters(st Stats) error {
	c := &s.d.stats
	c.Done, c.Failed, c.Retried, c.Disallowed, c.TooDeep, c.TooMany = st.Done, st.Failed, st.Retried, st.Disallowed, st.TooDeep, st.TooMany
	return nil
}

// migrateCommitEvery bounds the URLs of one commit of a migration (its
// batch is held in memory).
const migrateCommitEvery = 20000

func (s *dirSink) URL(u *URLSnapshot) error {
	d := s.d
	k := urlx.KeyOf(u.URL)
	q := d.queue(d.cfg.queueOf(urlx.Host(u.URL)), s.now)
	rec := urlRecord{
		state: u.State, attempts: byte(min(u.Attempts, 255)), level: byte(min(u.Level, 255)), priority: 1,
		status: u.Status, due: s.now.UnixNano(), queue: q.id, url: u.URL, etag: u.ETag, lastMod: u.LastModified,
		capture: u.WARCCapture, via: u.Via, hopPath: u.HopPath, depth: uint16(min(u.Depth, 1<<16-1)),
	}
	if !u.Due.IsZero() {
		rec.due = u.Due.UnixNano()
	}
	for _, e := range u.History[max(len(u.History)-maxHistory, 0):] {
		rec.history = append(rec.history, event{at: e.At.UnixNano(), value: e.Value, kind: e.Kind, state: e.State})
	}
	if err := d.b.Set(urlKey(k), rec.encode(), nil); err != nil {
		return err
	}
	d.filter.add(&k)
	d.stats.Seen++
	if u.Queued() {
		due := rec.queueDue()
		if u.Returned {
			due = returnedDue
		}
		if err := d.enqueueAt(k, &rec, q, due); err != nil {
			return err
		}
		d.dirty[q] = struct{}{}
	}
	if s.pending++; s.pending >= migrateCommitEvery {
		s.pending = 0
		return d.Commit()
	}
	return nil
}

func (s *dirSink) Close() error { return s.f.Close() }
