// dispatch.go: handing out URLs: sp_dispatch on the partitions this master
// owns that have a host due, pipelined per primary and followed by WAIT on
// the same connection, then robots.txt's verdict on each URL.

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// noReplicaRetry is how long dispatches on a primary whose replicas did
// not answer a WAIT go without waiting (counted as unreplicated).
const noReplicaRetry = 5 * time.Second

// maxRounds bounds the rounds of calls one Next makes.
const maxRounds = 3

// learnDue records when partition p may next dispatch (Redis ms, -1:
// nothing queued), for a partition this master owns.
func (s *Store) learnDue(p int, at int64) {
	if _, ok := s.due[p]; ok {
		s.due[p] = at
	}
}

// NextDue implements frontier.Store: the earliest ready time of the
// partitions this master owns, as far as it knows (other masters' links,
// and partitions just taken over, are learnt within a second by Expire).
func (s *Store) NextDue(now time.Time) time.Time {
	s.syncOwned()
	best := int64(-1)
	for _, at := range s.due {
		if at >= 0 && (best < 0 || at < best) {
			best = at
		}
	}
	if best < 0 {
		return time.Time{}
	}
	return s.local(best)
}

// syncOwned brings the set of partitions in due up to what the ownership
// goroutine holds: new ones are due at once (nothing known yet), lost ones
// are dropped. It returns the partitions owned, with their epochs.
func (s *Store) syncOwned() map[int]int64 {
	owned := s.own.snapshot()
	for p := range s.due {
		if _, ok := owned[p]; !ok {
			delete(s.due, p)
		}
	}
	for p := range owned {
		if _, ok := s.due[p]; !ok {
			s.due[p] = 0
		}
	}
	return owned
}

// Next implements frontier.Store.
func (s *Store) Next(now time.Time, max int) ([]*crawluri.CrawlUri, error) {
	epochs := s.syncOwned()
	var out []*crawluri.CrawlUri
	for round := 0; round < maxRounds && len(out) < max; round++ {
		redisNow := now.UnixMilli() + s.skew
		var cands []int
		for p, at := range s.due {
			if at >= 0 && at <= redisNow {
				cands = append(cands, p)
			}
		}
		if len(cands) == 0 {
			break
		}
		slices.SortFunc(cands, func(a, b int) int { return int(s.due[a] - s.due[b]) })
		left := max - len(out)
		per := (left + len(cands) - 1) / len(cands)
		limits := map[int]int{}
		for _, p := range cands {
			if left == 0 {
				break
			}
			n := min(per, left, maxPerCall)
			limits[p] = n
			left -= n
		}
		got, full, err := s.dispatch(limits, epochs)
		out = append(out, got...)
		if err != nil {
			if s.unavailable(err) {
				s.shrug("dispatch", err)
				return out, nil
			}
			return out, err
		}
		if !full {
			break
		}
	}
	return out, nil
}

// dispatch calls sp_dispatch on each partition of limits for up to its
// limit, under the partition's epoch, and reports whether any partition
// gave all it was asked (it may have more).
func (s *Store) dispatch(limits map[int]int, epochs map[int]int64) ([]*crawluri.CrawlUri, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	byNode := map[*redis.Client][]int{}
	for p := range limits {
		c, err := s.nodeFor(ctx, s.prefix(p))
		if err != nil {
			return nil, false, err
		}
		byNode[c] = append(byNode[c], p)
	}
	var got []leased
	var errs []error
	full := false
	for node, parts := range byNode {
		l, f, err := s.dispatchOn(ctx, node, parts, limits, epochs)
		got = append(got, l...)
		full = full || f
		if err != nil {
			errs = append(errs, err)
		}
	}
	out, err := s.judge(got)
	if err != nil {
		errs = append(errs, err)
	}
	return out, full, errors.Join(errs...)
}

// nodeFor is the client of the primary that holds key (the client itself
// for one Redis).
func (s *Store) nodeFor(ctx context.Context, key string) (*redis.Client, error) {
	if s.ccl == nil {
		return s.rdb.(*redis.Client), nil
	}
	return s.ccl.MasterForKey(ctx, key)
}

// dispatchOn runs the dispatches of parts on one primary, in one pipeline
// ended by WAIT: the URLs go out only once a replica has the politeness
// clocks they moved (a failover then cannot send a host's next URL early).
func (s *Store) dispatchOn(ctx context.Context, node *redis.Client, parts []int, limits map[int]int, epochs map[int]int64) ([]leased, bool, error) {
	obey := 0
	if s.opts.ObeyRobots {
		obey = 1
	}
	pipe := node.Pipeline()
	cmds := make([]*redis.Cmd, len(parts))
	for i, p := range parts {
		cmds[i] = pipe.FCall(ctx, "sp_dispatch", []string{s.prefix(p)},
			epochs[p], s.parts, p, limits[p], s.opts.LeaseTimeout.Milliseconds(), s.opts.MinDelay.Milliseconds(), obey, s.cfg.Master, s.bkts)
	}
	var wait *redis.Cmd
	addr := node.Options().Addr
	if s.cfg.WaitReplicas > 0 && time.Now().After(s.noReplicaUntil[addr]) {
		wait = pipe.Do(ctx, "WAIT", s.cfg.WaitReplicas, s.cfg.WaitTimeout.Milliseconds())
	}
	_, _ = pipe.Exec(ctx)
	var out []leased
	var errs []error
	full := false
	for i, p := range parts {
		r, err := cmds[i].Slice()
		if err != nil {
			if redis.HasErrorPrefix(err, "FENCED") {
				s.own.fenced(p, err)
				delete(s.due, p)
				continue
			}
			errs = append(errs, fmt.Errorf("redis store: dispatching partition %d: %w", p, err))
			continue
		}
		got, err := s.parseDispatch(p, r)
		if err != nil {
			errs = append(errs, err)
		}
		full = full || len(got) >= limits[p]
		out = append(out, got...)
	}
	switch {
	case len(out) == 0:
	case wait == nil && s.cfg.WaitReplicas > 0:
		s.own.unreplicated(addr, 0, nil)
	case wait != nil:
		if n, err := wait.Int64(); err != nil || n < int64(s.cfg.WaitReplicas) {
			// Its replica is gone (it may be the replica promoted after
			// a failover): waiting 50 ms on every dispatch would only
			// slow the crawl. Try again in a while.
			s.noReplicaUntil[addr] = time.Now().Add(noReplicaRetry)
			s.own.unreplicated(addr, n, err)
		}
	}
	return out, full, errors.Join(errs...)
}

// parseDispatch reads sp_dispatch's reply for partition p.
func (s *Store) parseDispatch(p int, r []any) ([]leased, error) {
	bad := func() error { return fmt.Errorf("redis store: partition %d: unexpected dispatch reply %v", p, r) }
	if len(r) < 2 || (len(r)-2)%dispatchFields != 0 {
		return nil, bad()
	}
	redisNow, ok1 := r[0].(int64)
	first, ok2 := r[1].(int64)
	if !ok1 || !ok2 {
		return nil, bad()
	}
	s.sawClock(redisNow, time.Now())
	s.learnDue(p, first)
	var out []leased
	var errs []error
	now := time.Now()
	for i := 2; i < len(r); i += dispatchFields {
		kind, _ := r[i].(string)
		id, _ := r[i+1].(int64)
		host, _ := r[i+2].(string)
		m, _ := r[i+3].(string) // the queue entry; for a robots.txt its origin
		etag, _ := r[i+4].(string)
		lastMod, _ := r[i+5].(string)
		capture, _ := r[i+6].(string)
		origin, _ := r[i+7].(string)
		expires, _ := r[i+8].(int64)
		minDelay, _ := r[i+9].(int64)
		crawlDelay, _ := r[i+10].(int64)
		if kind != "u" {
			s.leases[id] = dispatchedLease{at: now, host: host, robots: true}
			out = append(out, leased{c: frontier.Dispatched(m+"/robots.txt", 0, id, "", "", "")})
			continue
		}
		e, ok := decodeEntry(m, host)
		if !ok {
			// Its lease expires and the entry is queued again; the others
			// of the reply go out.
			errs = append(errs, fmt.Errorf("redis store: partition %d: a corrupt queue entry of %s", p, host))
			continue
		}
		s.leases[id] = dispatchedLease{at: now, host: host, entry: m, redisAt: redisNow, Leased: frontier.Leased{
			URL: e.url, Depth: e.depth, Via: e.via, HopPath: e.hopPath, Prior: frontier.Prior{Attempts: e.attempts, Level: e.level},
			MinDelay: time.Duration(minDelay) * time.Millisecond, CrawlDelay: time.Duration(crawlDelay) * time.Millisecond,
		}}
		d := leased{c: frontier.Dispatched(e.url, e.level, id, etag, lastMod, capture)}
		if s.opts.ObeyRobots {
			d.origin, d.rulesExpire = origin, expires
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

// dispatchFields is the size of one URL in sp_dispatch's reply.
const dispatchFields = 11

// leased is a URL sp_dispatch leased; origin is set when robots.txt is to
// judge it, with the expiry (Redis ms) of the rules the partition has.
type leased struct {
	c           *crawluri.CrawlUri
	origin      string
	rulesExpire int64
}

// judge applies robots.txt to the URLs just leased and returns those to
// fetch: one the origin's rules disallow is taken out of the crawl
// (sp_decide: recorded as failed with 910 or 911, its host's clock put
// back) and handed to Decided.
func (s *Store) judge(got []leased) ([]*crawluri.CrawlUri, error) {
	var errs []error
	out := make([]*crawluri.CrawlUri, 0, len(got))
	for _, d := range got {
		if d.origin == "" {
			out = append(out, d.c)
			continue
		}
		rules, err := s.robotsRules(d.origin, d.rulesExpire)
		if err != nil {
			errs = append(errs, err) // dispatched: a page is not lost for want of its rules
			out = append(out, d.c)
			continue
		}
		_, path := urlx.SplitOrigin(d.c.URL)
		if allowed, status := rules.Allowed(path); !allowed {
			delete(s.leases, d.c.LeaseID)
			if err := s.decide(d.c.LeaseID, urlx.Host(d.c.URL), status); err != nil {
				errs = append(errs, err) // its lease expires and it is judged again
			} else {
				s.decided = append(s.decided, &crawluri.CrawlUri{URL: d.c.URL, EffectiveURL: d.c.URL, StatusCode: status})
			}
			continue
		}
		out = append(out, d.c)
	}
	return out, errors.Join(errs...)
}

// robotsRules returns an origin's rules, from memory while their expiry
// is the one the partition has (expires, Redis ms), else from Redis.
func (s *Store) robotsRules(origin string, expires int64) (frontier.RobotsRules, error) {
	if c, ok := s.rules[origin]; ok && c.expires == expires {
		return c.rules, nil
	}
	p := s.partitionOf(urlx.Host(origin + "/"))
	ctx, cancel := s.ctx()
	defer cancel()
	b, err := s.rdb.HGet(ctx, s.prefix(p)+"robots", origin).Bytes()
	if errors.Is(err, redis.Nil) {
		return frontier.RobotsRules{}, nil
	}
	if err != nil {
		return frontier.RobotsRules{}, fmt.Errorf("redis store: reading the robots.txt rules of %s: %w", origin, err)
	}
	var r frontier.RobotsRules
	if err := r.UnmarshalBinary(b); err != nil {
		s.log.Error().Err(err).Str("host", origin).Msg("redis store: stored robots.txt rules unreadable; the URL is fetched")
		return frontier.RobotsRules{}, nil
	}
	if len(s.rules) >= robotsCacheMax {
		for o := range s.rules { // random order: drop about half
			if len(s.rules) <= robotsCacheMax/2 {
				break
			}
			delete(s.rules, o)
		}
	}
	s.rules[origin] = cachedRules{expires: expires, rules: r}
	return r, nil
}

// robotsCacheMax bounds the origins whose rules are kept in memory.
const robotsCacheMax = 1 << 16

// decide takes a leased URL (of host) out of the crawl without a fetch.
func (s *Store) decide(lease int64, host string, status int16) error {
	p, _ := s.partitionOfLease(lease)
	ctx, cancel := s.ctx()
	defer cancel()
	r, err := s.rdb.FCall(ctx, "sp_decide", []string{s.prefix(p)}, s.bkts, lease, host, status).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis store: recording lease %d as disallowed by robots.txt: %w", lease, err)
	}
	if len(r) == 3 {
		s.learnDue(p, r[2])
	}
	s.wrote()
	return nil
}
