// result.go: ending a lease: what the policy needs to know of it (Lease),
// its result's outcome (Settle, SettleRobots), a hand-back (Release), an
// expiry (Expire). Every call is lease-guarded in Redis: a lease that is
// not outstanding changes nothing, whichever master is asked.

package redisstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// stale is the error for a lease that is not outstanding.
func stale(id int64, url string) error {
	return fmt.Errorf("%w: lease %d (%s)", frontier.ErrStaleLease, id, url)
}

// Lease implements frontier.Store. A URL's lease is known from its
// dispatch (its results come back to the master that dispatched it); a
// robots.txt's (for its rules so far), or one this master did not
// dispatch, is read from Redis, where a lease is its host's: url (or, for
// a robots.txt this master dispatched, memory) names the host.
func (s *Store) Lease(id int64, url string) (frontier.Leased, error) {
	p, ok := s.partitionOfLease(id)
	if !ok || s.settling[id] {
		return frontier.Leased{}, stale(id, url)
	}
	l, known := s.leases[id]
	if known && !l.robots {
		if url != "" && l.URL != url {
			return frontier.Leased{}, fmt.Errorf("%w: lease %d is for %s, not %s", frontier.ErrStaleLease, id, l.URL, url)
		}
		return l.Leased, nil
	}
	host := l.host
	if url != "" {
		host = urlx.Host(url)
	}
	if host == "" {
		return frontier.Leased{}, stale(id, url)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.rdb.FCallRO(ctx, "sp_lease", []string{s.prefix(p)}, id, host).Slice()
	if err == redis.Nil {
		return frontier.Leased{}, stale(id, url)
	}
	if err != nil {
		return frontier.Leased{}, fmt.Errorf("redis store: reading lease %d: %w", id, err)
	}
	if len(r) < 8 {
		return frontier.Leased{}, fmt.Errorf("redis store: lease %d: unexpected reply %v", id, r)
	}
	kind, _ := r[0].(string)
	u, _ := r[1].(string)
	if url != "" && u != url {
		return frontier.Leased{}, fmt.Errorf("%w: lease %d is for %s, not %s", frontier.ErrStaleLease, id, u, url)
	}
	depth, _ := r[2].(int64)
	attempts, _ := r[3].(int64)
	level, _ := r[4].(int64)
	minDelay, _ := r[5].(int64)
	crawlDelay, _ := r[6].(int64)
	ll := frontier.Leased{
		URL: u, Depth: int(depth), Prior: frontier.Prior{Attempts: int(attempts), Level: int(level)},
		MinDelay: time.Duration(minDelay) * time.Millisecond, CrawlDelay: time.Duration(crawlDelay) * time.Millisecond,
	}
	if kind == "r" {
		ll.Robots = true
		if b := replyString(r, 8); b != "" {
			if err := ll.RobotsRules.UnmarshalBinary([]byte(b)); err != nil {
				s.log.Error().Err(err).Str("url", u).Msg("redis store: stored robots.txt rules unreadable; starting afresh")
				ll.RobotsRules = frontier.RobotsRules{}
			}
		}
		s.leases[id] = dispatchedLease{Leased: ll, at: time.Now(), host: host, robots: true}
		return ll, nil
	}
	// Known now, for Settle: a lease of another master (its result came
	// here), or one this master forgot.
	at, _ := r[len(r)-1].(int64)
	if len(r) >= 12 {
		s.leases[id] = dispatchedLease{Leased: ll, at: time.Now(), host: host, entry: replyString(r, 10), redisAt: at}
	}
	return ll, nil
}

// replyString is r[i] when it is a string, else "".
func replyString(r []any, i int) string {
	if i >= len(r) {
		return ""
	}
	s, _ := r[i].(string)
	return s
}

// fates are the names spyder.lua knows the policy's fates by.
var fates = map[frontier.Fate]string{
	frontier.FateDone: "done", frontier.FateRevisit: "revisit", frontier.FateRetry: "retry", frontier.FateFailed: "failed",
}

// Settle implements frontier.Store. The outcome is applied at the next
// Commit, which the master calls once its output of the turn is written:
// a result whose output could not be written is then not settled (see
// Discard), as with the Pebble store's group commit. What Redis is to
// write is made here, from what the dispatch said of the lease: the URL's
// record (whole for a first result; its head and new events for a later
// one, whose history Redis keeps), its entry when it is queued again and
// its host's clock.
func (s *Store) Settle(id int64, o frontier.Outcome, res *crawluri.CrawlUri, now time.Time) error {
	p, ok := s.partitionOfLease(id)
	l, known := s.leases[id]
	if !ok || !known || s.settling[id] {
		return stale(id, res.URL)
	}
	e, ok := decodeEntry(l.entry, l.host)
	if !ok {
		return fmt.Errorf("redis store: lease %d: a corrupt queue entry", id)
	}
	hold := int64(-1)
	if !o.HostHeldUntil.IsZero() {
		hold = offset(o.HostHeldUntil, now)
	}
	state, requeue := frontier.URLDone, ""
	switch o.Fate {
	case frontier.FateRevisit:
		state, requeue = frontier.URLScheduled, requeued(l.entry, true, o.Attempts, o.Level)
	case frontier.FateRetry:
		state, requeue = frontier.URLQueued, requeued(l.entry, false, o.Attempts, o.Level)
	case frontier.FateFailed:
		state = frontier.URLFailed
	}
	validators := ""
	if o.NewValidators {
		validators = crawluri.HeaderValue(res.RepHeader, "Etag") + "\x00" + crawluri.HeaderValue(res.RepHeader, "Last-Modified") + "\x00"
	}
	capture := res.WARCCapture // "": the URL keeps its capture
	record := recordHead(state, res.StatusCode, o.Attempts, o.Level, e.depth, e.url)
	events := appendEvent(nil, frontier.EventDispatched, frontier.URLInFlight, l.redisAt, 0)
	events = appendEvent(events, frontier.EventResult, state, now.UnixMilli()+s.skew, int64(res.StatusCode))
	if e.flags&flagRecorded == 0 {
		// A first result: the record is written whole.
		if validators == "" {
			validators = "\x00\x00"
		}
		added := frontier.EventAddedLink
		if e.flags&flagSeed != 0 {
			added = frontier.EventAddedSeed
		}
		record = append(record, validators...)
		record = append(append(record, res.WARCCapture...), 0)
		record = appendEvent(record, added, frontier.URLQueued, e.added.UnixMilli(), 0)
		record = append(record, events...)
		validators, events, capture = "", nil, ""
	}
	bucket, field := s.seenPlace(l.entry)
	s.pend(p, id, res.URL, l.host, "sp_complete", id, l.host, fates[o.Fate], offset(o.Due, now), hold, offset(o.HostWaitsUntil, now),
		l.clock(), requeue, bucket, field, string(record), validators, string(events), capture)
	return nil
}

// SettleRobots implements frontier.Store; applied at the next Commit, as
// Settle.
func (s *Store) SettleRobots(id int64, f frontier.RobotsFetched, now time.Time) error {
	p, ok := s.partitionOfLease(id)
	l, known := s.leases[id]
	if !ok || !known || s.settling[id] {
		return stale(id, "")
	}
	rules, err := f.Rules.MarshalBinary()
	if err != nil {
		return fmt.Errorf("redis store: encoding robots.txt rules: %w", err)
	}
	retry, hold := int64(-1), int64(-1)
	if f.Retrying {
		retry = offset(f.Rules.RetryAt, now)
		hold = retry
	}
	s.pend(p, id, "", l.host, "sp_robots", id, l.host, rules, offset(f.Rules.Expires, now), retry,
		f.Rules.CrawlDelay(s.opts).Milliseconds(), offset(f.HostWaitsUntil, now), hold)
	return nil
}

// pending is a lease's outcome waiting for Commit.
type pending struct {
	p         int
	id        int64
	url, host string
	fn        string
	args      []any
}

func (s *Store) pend(p int, id int64, url, host, fn string, args ...any) {
	s.settling[id] = true
	delete(s.leases, id)
	s.pending = append(s.pending, pending{p: p, id: id, url: url, host: host, fn: fn, args: args})
}

// Commit implements frontier.Store: the outcomes of the turn's results,
// grouped by partition into calls of up to maxPerCall, in one pipeline.
// Those Redis could not take now (a failover) stay for the next Commit;
// an outcome whose lease has meanwhile ended (it expired and was queued
// again) is dropped, and the URL fetched again.
func (s *Store) Commit() error {
	if err := s.commitCookies(); err != nil {
		return err
	}
	if len(s.pending) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	type call struct {
		ops []pending
		cmd *redis.Cmd
	}
	var calls []*call
	completes := map[int]*call{}
	pipe := s.rdb.Pipeline()
	for _, op := range s.pending {
		if op.fn != "sp_complete" {
			calls = append(calls, &call{ops: []pending{op}, cmd: pipe.FCall(ctx, op.fn, []string{s.prefix(op.p)}, op.args...)})
			continue
		}
		c := completes[op.p]
		if c == nil || len(c.ops) == maxPerCall {
			c = &call{}
			completes[op.p] = c
			calls = append(calls, c)
		}
		c.ops = append(c.ops, op)
	}
	for _, c := range calls {
		if c.cmd != nil {
			continue
		}
		var args []any
		for _, op := range c.ops {
			args = append(args, op.args...)
		}
		c.cmd = pipe.FCall(ctx, "sp_complete", []string{s.prefix(c.ops[0].p)}, args...)
	}
	_, _ = pipe.Exec(ctx)
	var retry []pending
	var errs []error
	for _, c := range calls {
		r, err := c.cmd.Int64Slice()
		switch {
		case err != nil && s.unavailable(err):
			retry = append(retry, c.ops...)
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("redis store: applying the result of lease %d (%s): %w", c.ops[0].id, c.ops[0].url, err))
		default:
			applied := r
			if c.ops[0].fn == "sp_complete" {
				if len(r) != 2+len(c.ops) {
					errs = append(errs, fmt.Errorf("redis store: applying results: unexpected reply %v", r))
					break
				}
				s.sawClock(r[0], time.Now())
				s.learnDue(c.ops[0].p, r[1])
				applied = r[2:]
			} else if len(r) == 3 {
				s.sawClock(r[1], time.Now())
				s.learnDue(c.ops[0].p, r[2])
				applied = r[:1]
			}
			for i, op := range c.ops {
				if i >= len(applied) || applied[i] == 0 {
					s.log.Warn().Int64("lease", op.id).Str("url", op.url).
						Msg("redis store: a result's lease ended before it could be applied (it expired, or its master was taken for dead); the URL is fetched again")
				}
			}
		}
		for _, op := range c.ops {
			delete(s.settling, op.id)
		}
	}
	for _, op := range retry {
		s.settling[op.id] = true
	}
	s.pending = retry
	s.wrote()
	if len(retry) > 0 {
		s.shrug("commit", fmt.Errorf("%d results wait for Redis", len(retry)))
	}
	return errors.Join(errs...)
}

// Discard implements frontier.Store: the outcomes not yet applied are
// dropped and their URLs released to be fetched again at once (the
// master could not write their output).
func (s *Store) Discard(err error) {
	dropped := s.pending
	s.pending = nil
	clear(s.settling)
	for _, op := range dropped {
		if rerr := s.release(op.id, op.host, false); rerr != nil && !errors.Is(rerr, frontier.ErrStaleLease) {
			s.log.Warn().Err(rerr).Int64("lease", op.id).Msg("redis store: releasing a result's URL failed; it is fetched again when its lease expires")
		}
	}
}

// ended reads the reply of a lease-guarded call made at once.
func (s *Store) ended(p int, id int64, url string, r []int64, err error, doing string) error {
	if err != nil {
		return fmt.Errorf("redis store: %s lease %d: %w", doing, id, err)
	}
	if len(r) == 0 || r[0] == 0 {
		return stale(id, url)
	}
	if len(r) == 3 {
		s.sawClock(r[1], time.Now())
		s.learnDue(p, r[2])
	}
	s.wrote()
	return nil
}

// Release implements frontier.Store: for a lease this master dispatched
// (a lease is its host's in Redis; the master's memory has the host).
func (s *Store) Release(id int64, now time.Time) error {
	l, ok := s.leases[id]
	if !ok || s.settling[id] {
		return stale(id, "")
	}
	delete(s.leases, id)
	return s.release(id, l.host, false)
}

// ReturnUnsent implements frontier.Store.
func (s *Store) ReturnUnsent(id int64, now time.Time) error {
	l, ok := s.leases[id]
	if !ok || s.settling[id] {
		return stale(id, "")
	}
	delete(s.leases, id)
	return s.release(id, l.host, true)
}

// release hands back lease id of host; unsent: its URL never went to a
// worker.
func (s *Store) release(id int64, host string, unsent bool) error {
	p, ok := s.partitionOfLease(id)
	if !ok {
		return stale(id, "")
	}
	ctx, cancel := s.ctx()
	defer cancel()
	flag := "0"
	if unsent {
		flag = "1"
	}
	r, err := s.rdb.FCall(ctx, "sp_release", []string{s.prefix(p)}, id, host, flag).Int64Slice()
	return s.ended(p, id, "", r, err, "releasing")
}

// Expire implements frontier.Store: on every partition this master owns,
// the leases that expired are queued again (sp_reclaim, fenced). It runs
// every second, and also learns then when each partition is next due
// (other masters' links included).
func (s *Store) Expire(now time.Time) ([]frontier.Expired, error) {
	out, err := s.reclaim(s.syncOwned(), nil)
	if parts, alive := s.own.takenOver(); len(parts) > 0 {
		// Taken over: what the last owner had in flight is queued again
		// now if that master is gone (no one would apply its results).
		dead, derr := s.reclaim(parts, alive)
		out, err = append(out, dead...), errors.Join(err, derr)
	}
	for _, e := range out {
		delete(s.leases, e.Lease)
	}
	s.forgetOldLeases()
	if err != nil && s.unavailable(err) {
		s.shrug("expire", err)
		return out, nil
	}
	return out, err
}

// dispatchedLease is what a lease's dispatch told this master: what the
// policy needs, and what sp_complete needs (the URL's host and queue
// entry, and the Redis time of the dispatch).
type dispatchedLease struct {
	frontier.Leased
	at      time.Time // this machine's time of the dispatch
	host    string
	entry   string
	redisAt int64 // Redis's time of the dispatch (ms)
	// robots: the fetch of a robots.txt, whose rules so far Lease reads
	// from Redis.
	robots bool
}

// clock is the politeness clock the dispatch gave the host (spyder.lua's
// lease: after(now) + the larger delay).
func (l dispatchedLease) clock() int64 {
	return l.redisAt + 1 + max(l.MinDelay, l.CrawlDelay).Milliseconds()
}

// forgetOldLeases drops what is remembered of leases dispatched more than
// two lease timeouts ago: their results would be stale (another master
// queued them again when their partition moved).
func (s *Store) forgetOldLeases() {
	cutoff := time.Now().Add(-2 * s.opts.LeaseTimeout)
	for id, l := range s.leases {
		if l.at.Before(cutoff) {
			delete(s.leases, id)
		}
	}
}

// reclaim runs sp_reclaim on partitions (their epochs); with alive, the
// leases of masters not in it are queued again too.
func (s *Store) reclaim(parts map[int]int64, alive []string) ([]frontier.Expired, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	pipe := s.rdb.Pipeline()
	cmds := map[int]*redis.Cmd{}
	for p, epoch := range parts {
		args := []any{epoch, 1000}
		for _, m := range alive {
			args = append(args, m)
		}
		cmds[p] = pipe.FCall(ctx, "sp_reclaim", []string{s.prefix(p)}, args...)
	}
	_, _ = pipe.Exec(ctx)
	var out []frontier.Expired
	var firstErr error
	for p, cmd := range cmds {
		r, err := cmd.Slice()
		if err != nil {
			if redis.HasErrorPrefix(err, "FENCED") {
				s.own.fenced(p, err)
				delete(s.due, p)
				continue
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("redis store: re-queueing expired leases of partition %d: %w", p, err)
			}
			continue
		}
		if len(r) < 2 {
			continue
		}
		if now, ok := r[0].(int64); ok {
			s.sawClock(now, time.Now())
		}
		if first, ok := r[1].(int64); ok {
			s.learnDue(p, first)
		}
		for i := 2; i+1 < len(r); i += 2 {
			id, _ := r[i].(string)
			u, _ := r[i+1].(string)
			var lease int64
			fmt.Sscan(id, &lease)
			out = append(out, frontier.Expired{Lease: lease, URL: u})
		}
	}
	if len(out) > 0 {
		s.wrote()
	}
	return out, firstErr
}
