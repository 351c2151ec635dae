// stats.go: the crawl's counts, summed over every partition (whichever
// master changed them) and cached for a second.

package redisstore

import (
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/frontier"
)

// statsEvery is how long summed counts are used before they are read
// again (the master asks on every turn).
const statsEvery = time.Second

type statsCache struct {
	at    time.Time
	stats frontier.Stats
	// dirty: this master changed something since they were read.
	dirty bool
}

// wrote notes a change, so that counts saying the crawl is idle are read
// again before they are believed.
func (s *Store) wrote() {
	s.statsMu.Lock()
	s.stats.dirty = true
	s.statsMu.Unlock()
}

// Stats implements frontier.Store. Counts that say the crawl is idle are
// read afresh whenever this master changed something since, so that a
// batch crawl does not end on a stale view.
func (s *Store) Stats() frontier.Stats {
	s.statsMu.Lock()
	c := s.stats
	s.statsMu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < statsEvery && !(c.dirty && c.stats.Idle()) {
		return c.stats
	}
	st, _, err := s.readStats(false)
	if err != nil {
		s.shrug("stats", err)
		return c.stats
	}
	s.statsMu.Lock()
	s.stats = statsCache{at: time.Now(), stats: st}
	s.statsMu.Unlock()
	return st
}

// BlockedQueues implements frontier.Store: it reads every partition's
// held hosts.
func (s *Store) BlockedQueues(now time.Time) int64 {
	_, blocked, err := s.readStats(true)
	if err != nil {
		s.shrug("blocked queues", err)
	}
	return blocked
}

// readStats sums the counters of every partition; blocked also counts
// the hosts held beyond politeness (sp_blocked, which forgets past holds).
func (s *Store) readStats(blocked bool) (frontier.Stats, int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	type counts struct {
		n           *redis.MapStringStringCmd
		ready, busy *redis.IntCmd
		held        *redis.Cmd
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]counts, s.parts)
	for p := range cmds {
		pfx := s.prefix(p)
		cmds[p] = counts{n: pipe.HGetAll(ctx, pfx+"n"), ready: pipe.ZCard(ctx, pfx+"ready"), busy: pipe.HLen(ctx, pfx+"busy")}
		if blocked {
			cmds[p].held = pipe.FCall(ctx, "sp_blocked", []string{pfx})
		}
	}
	_, _ = pipe.Exec(ctx)
	var st frontier.Stats
	var held int64
	for p, c := range cmds {
		if err := c.n.Err(); err != nil {
			return st, held, fmt.Errorf("redis store: reading the counts of partition %d: %w", p, err)
		}
		addCounters(&st, c.n.Val())
		st.InFlight += c.busy.Val() // (one lease per host)
		st.ActiveQueues += c.ready.Val() + c.busy.Val()
		if c.held != nil {
			n, err := c.held.Int64()
			if err != nil {
				return st, held, fmt.Errorf("redis store: counting the held hosts of partition %d: %w", p, err)
			}
			held += n
		}
	}
	return st, held, nil
}

// counterFields are spyder.lua's counters (a partition's hash n) by
// name, each with its field of st.
func counterFields(st *frontier.Stats) map[string]*int64 {
	return map[string]*int64{
		"seen": &st.Seen, "queued": &st.Queued, "scheduled": &st.Scheduled, "done": &st.Done, "failed": &st.Failed,
		"retried": &st.Retried, "disallowed": &st.Disallowed, "toodeep": &st.TooDeep, "toomany": &st.TooMany,
	}
}

// cumulativeCounters are the counters that cannot be counted again from
// the URLs (what a migration carries as frontier.Sink.Counters).
var cumulativeCounters = []string{"done", "failed", "retried", "disallowed", "toodeep", "toomany"}

// addCounters adds a partition's counters (its hash n) to st.
func addCounters(st *frontier.Stats, n map[string]string) {
	fields := counterFields(st)
	for name, v := range n {
		if dst := fields[name]; dst != nil {
			x, _ := strconv.ParseInt(v, 10, 64)
			*dst += x
		}
	}
}
