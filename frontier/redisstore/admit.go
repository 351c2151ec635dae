// admit.go: URLs entering the frontier (seeds and links), grouped by
// partition into calls of sp_add, pipelined.

package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// maxPerCall bounds the URLs of one function call: a call blocks its
// shard, and 100 items keep it near a millisecond.
const maxPerCall = 100

// AddSeeds implements frontier.Store: the seeds' hosts are remembered as
// the crawl's default scope.
func (s *Store) AddSeeds(urls []string, now time.Time) (int, error) {
	hosts := map[string]struct{}{}
	for _, u := range urls {
		if h := urlx.Host(u); h != "" {
			hosts[h] = struct{}{}
		}
	}
	if len(hosts) > 0 {
		members := make([]any, 0, len(hosts))
		for h := range hosts {
			members = append(members, h)
		}
		ctx, cancel := s.ctx()
		defer cancel()
		if err := s.rdb.SAdd(ctx, s.ctlKey("seeds"), members...).Err(); err != nil {
			return 0, fmt.Errorf("redis store: remembering the seeds' hosts: %w", err)
		}
	}
	return s.admit(urls, frontier.Discovery{}, flagSeed)
}

// SeedHosts implements frontier.Store.
func (s *Store) SeedHosts() ([]string, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	hosts, err := s.rdb.SMembers(ctx, s.ctlKey("seeds")).Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: reading the seeds' hosts: %w", err)
	}
	return hosts, nil
}

// Admit implements frontier.Store.
func (s *Store) Admit(urls []string, d frontier.Discovery, now time.Time) (int, error) {
	return s.admit(urls, d, 0)
}

func (s *Store) admit(urls []string, d frontier.Discovery, flags byte) (int, error) {
	depth := d.Depth
	if len(urls) == 0 {
		return 0, nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if s.opts.MaxDepth > 0 && depth > s.opts.MaxDepth {
		// Counted in the partition of the first URL's host: the counters
		// are summed over partitions.
		p := s.partitionOf(urlx.Host(urls[0]))
		if err := s.rdb.HIncrBy(ctx, s.prefix(p)+"n", "toodeep", int64(len(urls))).Err(); err != nil {
			return 0, fmt.Errorf("redis store: counting links too deep: %w", err)
		}
		return 0, nil
	}
	byPart := map[int][]any{}
	now := time.Now()
	for _, u := range urls {
		host := urlx.Host(u)
		p := s.partitionOf(host)
		byPart[p] = append(byPart[p], host, entry(u, host, flags, d, now))
	}
	added := 0
	for _, c := range s.callPartitions(ctx, "sp_add", byPart, 2*maxPerCall, s.bkts, s.opts.MaxURLsPerHost) {
		r, err := c.cmd.Int64Slice()
		if err != nil || len(r) != 4 {
			return added, fmt.Errorf("redis store: admitting URLs to partition %d: %w", c.p, errOr(err, r))
		}
		added += int(r[0])
		s.sawClock(r[2], time.Now())
		s.learnDue(c.p, r[3])
	}
	s.wrote()
	return added, nil
}

// A partitionCall is one function call on partition p.
type partitionCall struct {
	p   int
	cmd *redis.Cmd
}

// callPartitions calls function fn on each partition of byPart, in one
// pipeline: head, then up to perCall of the partition's items (a whole
// number of URLs' fields) a call. The errors are the commands'.
func (s *Store) callPartitions(ctx context.Context, fn string, byPart map[int][]any, perCall int, head ...any) []partitionCall {
	pipe := s.rdb.Pipeline()
	var calls []partitionCall
	for p, items := range byPart {
		for len(items) > 0 {
			n := min(len(items), perCall)
			args := append(append(make([]any, 0, len(head)+n), head...), items[:n]...)
			calls = append(calls, partitionCall{p, pipe.FCall(ctx, fn, []string{s.prefix(p)}, args...)})
			items = items[n:]
		}
	}
	_, _ = pipe.Exec(ctx)
	return calls
}

// errOr is err, or an error for a reply of the wrong shape.
func errOr(err error, reply any) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected reply %v", reply)
}
