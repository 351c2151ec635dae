// hosts.go: the busiest and held hosts of a Redis crawl, for the masters'
// dashboards. Every master lists the whole crawl (as its counts are the
// whole crawl's), in a goroutine of its own: a crawl of a million hosts
// takes 2.4 s to list (BenchmarkListHosts), which must not stall the loop.

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/frontier"
)

const (
	// hostsChunk is how many hosts one round trip reads (a window of a
	// ready set in sp_hosts, about a millisecond of Redis's time; or the
	// sizes of that many queues).
	hostsChunk = 2000
	// hostsPacing: a listing starts no sooner than this many times as long
	// as the last one took, times the masters alive, after it ended, so
	// that the dashboards of every master together cost Redis a twentieth
	// of the time at most however large the crawl and however many masters
	// (and hostsEvery at least: a page refreshes every few seconds).
	hostsPacing = 20
	hostsEvery  = 5 * time.Second
)

// hostLister keeps the last listing and runs the next one.
type hostLister struct {
	mu            sync.Mutex
	busiest, held []frontier.HostReport
	err           error
	running       bool
	next          time.Time
	// ctx ends the listing under way when the store closes.
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// close ends the listing under way, if any, and waits for it.
func (l *hostLister) close() {
	l.mu.Lock()
	if l.stop != nil {
		l.stop()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// BusiestHosts implements frontier.HostLister: it returns the last
// listing (none before the first has ended: the dashboard asks again) and
// starts the next when it is due.
func (s *Store) BusiestHosts(n int, now time.Time) (busiest, held []frontier.HostReport, err error) {
	l := &s.hosts
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running && !now.Before(l.next) {
		if l.ctx == nil {
			l.ctx, l.stop = context.WithCancel(context.Background())
		}
		l.running = true
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			start := time.Now()
			busiest, held, err := s.listHosts(l.ctx, n)
			took := time.Since(start)
			pause := max(hostsEvery, hostsPacing*took*time.Duration(max(1, s.Masters())))
			l.mu.Lock()
			defer l.mu.Unlock()
			l.running, l.next = false, time.Now().Add(pause)
			if l.err = err; err == nil {
				l.busiest, l.held = busiest, held
			}
			s.log.Debug().Dur("took", took).Err(err).Msg("redis store: listed the hosts")
		}()
	}
	return l.busiest[:min(len(l.busiest), n)], l.held[:min(len(l.held), n)], l.err
}

// listHosts reads every partition: the largest queues of the hosts
// waiting (sp_hosts, a window of ready at a time), then the hosts in
// flight (busy) and the held ones (hold), with their queues' sizes and
// clocks. It keeps the n largest queues and the first n held ones by
// name. A host moving between ready and busy while it reads may be seen
// twice or not at all, which a dashboard can bear.
func (s *Store) listHosts(ctx context.Context, n int) (busiest, held []frontier.HostReport, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*s.cfg.OpTimeout)
	defer cancel()
	// Redis's clock, to compare holds with and to turn its times into
	// this machine's (the loop's view of the skew is the loop's own).
	redisNow, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("redis store: listing the hosts: %w", err)
	}
	localNow, nowMS := time.Now(), redisNow.UnixMilli()
	toLocal := func(ms int64) time.Time { return localNow.Add(time.Duration(ms-nowMS) * time.Millisecond) }

	top := frontier.NewTopQueued(n, func(r frontier.HostReport) int64 { return r.Queued })
	var heldAll []frontier.HostReport
	for p := range s.parts {
		reports, holds, blocks, err := s.partitionHosts(ctx, p, n, nowMS)
		if err != nil {
			return nil, nil, fmt.Errorf("redis store: listing the hosts of partition %d: %w", p, err)
		}
		for _, r := range reports {
			// It may dispatch at max(clock, hold), as its score in ready
			// says when it has no URL in flight.
			h := holds[r.Name]
			if at := max(r.clockMS, h); at > nowMS {
				r.NextAllowed = toLocal(at)
			}
			if h > nowMS {
				r.Held = "Retry-After or robots.txt retry"
				if blocks[r.Name] > nowMS {
					r.Held = "operator block"
				}
				heldAll = append(heldAll, r.HostReport)
			}
			top.Offer(r.HostReport)
		}
	}
	busiest = top.Items()
	frontier.SortHostReports(busiest, heldAll)
	return busiest, heldAll[:min(len(heldAll), n)], nil
}

// partitionHosts reads partition p: the n largest queues of each window
// of its waiting hosts, and every host in flight or held at nowMS (Redis
// ms), with its holds and operator blocks (ms) by host.
func (s *Store) partitionHosts(ctx context.Context, p, n int, nowMS int64) (reports []hostReport, holds, blocks map[string]int64, err error) {
	pfx := s.prefix(p)
	pipe := s.rdb.Pipeline()
	busy, hold, block := pipe.HKeys(ctx, pfx+"busy"), pipe.HGetAll(ctx, pfx+"hold"), pipe.HGetAll(ctx, pfx+"block")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, nil, err
	}
	holds, blocks = msByHost(hold.Val()), msByHost(block.Val())
	seen := map[string]bool{}
	for start := 0; ; start += hostsChunk {
		v, err := s.rdb.FCall(ctx, "sp_hosts", []string{pfx}, start, hostsChunk, n).Slice()
		if err != nil {
			return nil, nil, nil, err
		}
		if len(v) == 0 || (len(v)-1)%3 != 0 {
			return nil, nil, nil, fmt.Errorf("sp_hosts answered %d values", len(v))
		}
		for i := 1; i < len(v); i += 3 {
			host, _ := v[i].(string)
			queued, _ := v[i+1].(int64)
			clock, _ := v[i+2].(int64)
			seen[host] = true
			reports = append(reports, hostReport{HostReport: frontier.HostReport{Name: host, Queued: queued}, clockMS: clock})
		}
		if scanned, _ := v[0].(int64); scanned < hostsChunk {
			break
		}
	}
	// The hosts in flight are not in ready, and a held host is reported
	// whatever its size: their queues are read here (a few, as there are
	// URLs in flight and hosts held).
	others := busy.Val()
	for h, until := range holds {
		if until > nowMS {
			others = append(others, h)
		}
	}
	for len(others) > 0 {
		batch := others[:min(len(others), hostsChunk)]
		others = others[len(batch):]
		more, err := s.hostReports(ctx, pfx, batch, seen)
		if err != nil {
			return nil, nil, nil, err
		}
		reports = append(reports, more...)
	}
	return reports, holds, blocks, nil
}

// msByHost parses a hash of host -> ms.
func msByHost(h map[string]string) map[string]int64 {
	out := make(map[string]int64, len(h))
	for host, v := range h {
		out[host], _ = strconv.ParseInt(v, 10, 64)
	}
	return out
}

// hostReport is a host's report with its politeness clock as Redis has it.
type hostReport struct {
	frontier.HostReport
	clockMS int64
}

// hostReports reads the queue sizes and clocks of hosts of the partition
// at pfx, skipping those in seen (and adding the others); hosts whose
// queue is empty (one URL, in flight) are left out.
func (s *Store) hostReports(ctx context.Context, pfx string, hosts []string, seen map[string]bool) ([]hostReport, error) {
	pipe := s.rdb.Pipeline()
	var names []string
	var sizes []*redis.IntCmd
	for _, h := range hosts {
		if !seen[h] {
			seen[h] = true
			names = append(names, h)
			sizes = append(sizes, pipe.ZCard(ctx, pfx+"q:"+h))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	clocks := pipe.HMGet(ctx, pfx+"clock", names...)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []hostReport
	for i, h := range names {
		r := hostReport{HostReport: frontier.HostReport{Name: h, Queued: sizes[i].Val()}}
		if r.Queued == 0 {
			continue
		}
		if c, ok := clocks.Val()[i].(string); ok {
			r.clockMS, _ = strconv.ParseInt(c, 10, 64)
		}
		out = append(out, r)
	}
	return out, nil
}

var _ frontier.HostLister = (*Store)(nil)
