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

// readStats sums sp_stats over every partition.
func (s *Store) readStats(blocked bool) (frontier.Stats, int64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	flag := 0
	if blocked {
		flag = 1
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, s.parts)
	for p := range cmds {
		cmds[p] = pipe.FCall(ctx, "sp_stats", []string{s.prefix(p)}, flag)
	}
	_, _ = pipe.Exec(ctx)
	var st frontier.Stats
	var held int64
	for p, cmd := range cmds {
		r, err := cmd.Slice()
		if err != nil {
			return st, held, fmt.Errorf("redis store: reading the counts of partition %d: %w", p, err)
		}
		for i := 0; i+1 < len(r); i += 2 {
			name, _ := r[i].(string)
			var n int64
			switch v := r[i+1].(type) {
			case int64:
				n = v
			case string:
				n, _ = strconv.ParseInt(v, 10, 64)
			}
			switch name {
			case "seen":
				st.Seen += n
			case "queued":
				st.Queued += n
			case "scheduled":
				st.Scheduled += n
			case "inflight":
				st.InFlight += n
			case "done":
				st.Done += n
			case "failed":
				st.Failed += n
			case "retried":
				st.Retried += n
			case "disallowed":
				st.Disallowed += n
			case "toodeep":
				st.TooDeep += n
			case "toomany":
				st.TooMany += n
			case "active":
				st.ActiveQueues += n
			case "blocked":
				held += n
			}
		}
	}
	return st, held, nil
}
