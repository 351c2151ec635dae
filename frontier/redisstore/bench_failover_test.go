// bench_failover_test.go: how long a partition stops dispatching when the
// master that owns it dies, and when the Redis primary that holds it is
// killed (each iteration on a cluster of its own).
//
//	go test -run '^$' -bench Failover -benchtime 3x ./frontier/redisstore/

package redisstore

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/redistest"
	"github.com/spyder-crawl/spyder/urlx"
)

// failoverHosts is how many hosts the crawl of a failover benchmark has
// (each partition has some), with failoverURLs URLs each.
const (
	failoverHosts = 640
	failoverURLs  = 40
)

// crawlFor admits the crawl of a failover benchmark through f.
func crawlFor(b *testing.B, f frontier.Frontier) {
	b.Helper()
	var urls []string
	for u := range failoverURLs {
		for h := range failoverHosts {
			urls = append(urls, fmt.Sprintf("http://fo%d.test/%d", h, u))
		}
	}
	if _, err := f.AddSeeds(urls, time.Now()); err != nil {
		b.Fatal(err)
	}
}

// crawlUntil dispatches and answers through f until stop says so, and
// calls seen for each URL dispatched.
func crawlUntil(b *testing.B, f frontier.Frontier, seen func(u string, at time.Time), stop func() bool) {
	b.Helper()
	for !stop() {
		now := time.Now()
		got, err := f.Next(now, 500)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range got {
			seen(c.URL, now)
			if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, now); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Commit(); err != nil {
			b.Fatal(err)
		}
		if len(got) == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// BenchmarkMasterFailover: two masters share a crawl (ownership TTL
// 1.2 s); one dies without a word (its ownership goroutine halted, as a
// kill -9 leaves it); reported: the time from the death until the other
// master dispatches a URL of every partition the dead one held.
func BenchmarkMasterFailover(b *testing.B) {
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		node := redistest.StartRedis(b)
		opts := frontier.Options{LeaseTimeout: time.Minute}
		cfg := Config{Addrs: []string{node.Addr}, Crawl: "mf", Partitions: 64, SeenBuckets: 4, OwnershipTTL: 1200 * time.Millisecond}
		cfg.Master = "a"
		a, err := Open(opts, cfg)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Master = "b"
		sb, err := Open(opts, cfg)
		if err != nil {
			b.Fatal(err)
		}
		fb := frontier.Over(sb, opts)
		crawlFor(b, frontier.Over(a, opts))
		for len(a.Owned())+len(sb.Owned()) != 64 || len(a.Owned()) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		dead := map[int]bool{}
		for _, p := range a.Owned() {
			dead[p] = true
		}
		a.own.halt()
		took = append(took, untilAllDispatch(b, sb, fb, dead, time.Now(), "the dead master's"))
		sb.Close()
		a.rdb.Close()
	}
	report(b, "takeover", took)
}

// BenchmarkPrimaryFailover: a master crawls on a 3-primary Redis Cluster
// with a replica each (cluster-node-timeout 1.5 s, ownership TTL 1.2 s);
// the primary of one partition is killed. Reported: the time until the
// cluster promoted its replica (polled every 50 ms), and until the master
// dispatched a URL of every partition the dead primary held.
func BenchmarkPrimaryFailover(b *testing.B) {
	var promoted, resumed []time.Duration
	for i := 0; i < b.N; i++ {
		rc := redistest.StartRedisCluster(b, 3, 1, 1500*time.Millisecond)
		opts := frontier.Options{LeaseTimeout: time.Minute}
		s, err := Open(opts, Config{Addrs: rc.Addrs(), Crawl: "pf", Partitions: 64, SeenBuckets: 4, Master: "m",
			OwnershipTTL: 1200 * time.Millisecond, WaitReplicas: -1})
		if err != nil {
			b.Fatal(err)
		}
		f := frontier.Over(s, opts)
		crawlFor(b, f)
		for len(s.Owned()) != 64 {
			time.Sleep(20 * time.Millisecond)
		}
		ctx := context.Background()
		primary, err := s.ccl.MasterForKey(ctx, s.prefix(0))
		if err != nil {
			b.Fatal(err)
		}
		victim := rc.Node(b, primary.Options().Addr)
		hit := map[int]bool{}
		for p := range 64 {
			if c, err := s.ccl.MasterForKey(ctx, s.prefix(p)); err == nil && c.Options().Addr == victim.Addr {
				hit[p] = true
			}
		}
		// The crawl runs for a second before the kill.
		warm := time.Now()
		crawlUntil(b, f, func(string, time.Time) {}, func() bool { return time.Since(warm) > time.Second })
		replica := rc.ReplicaOf(b, victim)
		victim.Kill()
		killed := time.Now()
		promotedAt := make(chan time.Duration, 1)
		go func() { promotedAt <- waitPromotion(replica, killed) }()
		resumed = append(resumed, untilAllDispatch(b, s, f, hit, killed, "the killed primary's"))
		promoted = append(promoted, <-promotedAt)
		s.Close()
	}
	report(b, "promotion", promoted)
	report(b, "dispatching", resumed)
}

// untilAllDispatch crawls through f (on store s) until it has dispatched a
// URL of each of parts since start (at most 30 s), and returns how long
// the slowest partition took; what names the partitions in the error.
func untilAllDispatch(b *testing.B, s *Store, f frontier.Frontier, parts map[int]bool, start time.Time, what string) time.Duration {
	b.Helper()
	back := map[int]time.Duration{}
	crawlUntil(b, f, func(u string, at time.Time) {
		if p := s.partitionOf(urlx.Host(u)); parts[p] && at.After(start) {
			if _, ok := back[p]; !ok {
				back[p] = at.Sub(start)
			}
		}
	}, func() bool { return len(back) == len(parts) || time.Since(start) > 30*time.Second })
	if len(back) != len(parts) {
		b.Fatalf("after 30 s, %d of %s %d partitions dispatch again", len(back), what, len(parts))
	}
	var slowest time.Duration
	for _, d := range back {
		slowest = max(slowest, d)
	}
	return slowest
}

// waitPromotion polls the replica (every 50 ms) until it is a primary,
// and returns the time since the kill.
func waitPromotion(replica *redistest.RedisNode, killed time.Time) time.Duration {
	for time.Since(killed) < 30*time.Second {
		if replica.Role() == "master" {
			return time.Since(killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 30 * time.Second
}

// report logs each duration and reports their median.
func report(b *testing.B, what string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(ds[len(ds)/2].Seconds(), what+"-s")
	b.Logf("%s: %v (median %v)", what, ds, ds[len(ds)/2])
}
