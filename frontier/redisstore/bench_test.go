// bench_test.go: what a URL costs Redis: lifecycles (admit, dispatch,
// result) per second of Redis CPU, and memory per queued URL.
//
//	go test -run '^$' -bench . -benchtime 200000x ./frontier/redisstore/

package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/redistest"
)

// redisInfo reads numeric fields of INFO sections from addr.
func redisInfo(b testing.TB, addr string, sections ...string) map[string]float64 {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	out := map[string]float64{}
	for _, sec := range sections {
		info, err := rdb.Info(context.Background(), sec).Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[k] = f
			}
		}
	}
	return out
}

func cpu(m map[string]float64) float64 { return m["used_cpu_user"] + m["used_cpu_sys"] }

// BenchmarkLifecycle: b.N URLs over 10,000 hosts admitted (100 links a
// call), then dispatched and answered (up to 1,000 URLs a turn, results
// settled at the turn's commit) until none is left. Reported: URLs per
// second of wall time (one master, one Redis, both on this machine) and
// per second of Redis CPU (the figure a primary core sets).
func BenchmarkLifecycle(b *testing.B) {
	// Partitions set how many items one function call carries: a turn's
	// 1,000 URLs over 256 partitions are about 4 a call, over 16 about 64.
	for _, parts := range []int{256, 16} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) { lifecycle(b, parts) })
	}
}

func lifecycle(b *testing.B, parts int) {
	node := redistest.StartRedis(b)
	opts := frontier.Options{LeaseTimeout: time.Minute, MaxRetries: 3, RetryBackoff: time.Second}
	s, err := Open(opts, Config{Addrs: []string{node.Addr}, Crawl: "b", Partitions: parts, SeenBuckets: max(1, 64*16/parts), Master: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f := frontier.Over(s, opts)
	before := redisInfo(b, node.Addr, "cpu")
	b.ResetTimer()
	start := time.Now()
	links := make([]string, 0, 100)
	for i := 0; i < b.N; i++ {
		links = append(links, fmt.Sprintf("http://h%d.example/page/%d", i%10000, i))
		if len(links) == cap(links) || i == b.N-1 {
			if _, err := f.Add(links, time.Now()); err != nil {
				b.Fatal(err)
			}
			links = links[:0]
		}
	}
	admitted := time.Since(start)
	done := 0
	for done < b.N {
		now := time.Now()
		got, err := f.Next(now, 1000)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range got {
			if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, now); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Commit(); err != nil {
			b.Fatal(err)
		}
		done += len(got)
	}
	wall := time.Since(start)
	b.StopTimer()
	after := redisInfo(b, node.Addr, "cpu")
	redisCPU := cpu(after) - cpu(before)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "urls/s")
	b.ReportMetric(float64(b.N)/redisCPU, "urls/redis-cpu-s")
	b.ReportMetric(redisCPU*1e6/float64(b.N), "redis-µs/url")
	b.Logf("N=%d: admitted in %v, whole lifecycle %v; Redis CPU %.2f s", b.N, admitted.Round(time.Millisecond), wall.Round(time.Millisecond), redisCPU)
}

// BenchmarkMemoryPerURL: b.N URLs queued over 10,000 hosts; Redis's
// used_memory grows by this much per URL (its seen-set entry and its
// queue entry), with the seen buckets sized for the crawl.
func BenchmarkMemoryPerURL(b *testing.B) {
	node := redistest.StartRedis(b)
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr})
	defer rdb.Close()
	// As the README recommends.
	for k, v := range map[string]string{"hash-max-listpack-entries": "256", "zset-max-listpack-value": "128", "zset-max-listpack-entries": "256"} {
		if err := rdb.ConfigSet(context.Background(), k, v).Err(); err != nil {
			b.Fatal(err)
		}
	}
	opts := frontier.Options{LeaseTimeout: time.Minute}
	parts := 256
	buckets := max(1, b.N/parts/100)
	s, err := Open(opts, Config{Addrs: []string{node.Addr}, Crawl: "m", Partitions: parts, SeenBuckets: buckets, Master: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	f := frontier.Over(s, opts)
	before := redisInfo(b, node.Addr, "memory")["used_memory"]
	b.ResetTimer()
	links := make([]string, 0, 100)
	for i := 0; i < b.N; i++ {
		links = append(links, fmt.Sprintf("http://h%d.example/a/b/%d.html", i%10000, i))
		if len(links) == cap(links) || i == b.N-1 {
			if _, err := f.Add(links, time.Now()); err != nil {
				b.Fatal(err)
			}
			links = links[:0]
		}
	}
	b.StopTimer()
	after := redisInfo(b, node.Addr, "memory")["used_memory"]
	b.ReportMetric((after-before)/float64(b.N), "bytes/url")
	b.Logf("N=%d over 10000 hosts, %d partitions x %d seen buckets: used_memory +%.1f MiB", b.N, parts, buckets, (after-before)/(1<<20))
}

// BenchmarkMasters: b.N URLs over 10,000 hosts crawled (admitted, each
// master admitting its half; dispatched; answered) by one master, then by
// two on the same 3-primary Redis Cluster, all on this machine (run with
// -count 2 for A B A B). Reported: URLs per second of wall time, Redis
// CPU per URL (summed over the primaries) and the masters' own CPU per
// URL (this process: the Redis client and the stores).
func BenchmarkMasters(b *testing.B) {
	rc := redistest.StartRedisCluster(b, 3, 0, 1500*time.Millisecond)
	for _, masters := range []int{1, 2} {
		b.Run(fmt.Sprintf("masters=%d", masters), func(b *testing.B) { crawlWith(b, rc, masters) })
	}
}

var benchCrawls int

func crawlWith(b *testing.B, rc *redistest.RedisCluster, masters int) {
	benchCrawls++
	crawl := fmt.Sprintf("masters%d-%d", masters, benchCrawls)
	opts := frontier.Options{LeaseTimeout: time.Minute, MaxRetries: 3, RetryBackoff: time.Second}
	stores := make([]*Store, masters)
	for i := range stores {
		s, err := Open(opts, Config{Addrs: rc.Addrs(), Crawl: crawl, Partitions: 64, SeenBuckets: 16,
			Master: fmt.Sprintf("m%d", i), OwnershipTTL: 3 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		owned := 0
		for _, s := range stores {
			owned += len(s.Owned())
		}
		if owned == 64 && len(stores[masters-1].Owned()) > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the masters did not share the partitions in 20 s")
		}
	}
	cpuOf := func() (redisCPU float64) {
		for _, a := range rc.Addrs() {
			redisCPU += cpu(redisInfo(b, a, "cpu"))
		}
		return redisCPU
	}
	var ru0, ru1 syscall.Rusage
	before := cpuOf()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, masters)
	for i, s := range stores {
		wg.Go(func() {
			f := frontier.Over(s, opts)
			links := make([]string, 0, 100)
			for u := i; u < b.N; u += masters {
				links = append(links, fmt.Sprintf("http://h%d.example/page/%d", u%10000, u))
				if len(links) == cap(links) || u+masters >= b.N {
					if _, err := f.Add(links, time.Now()); err != nil {
						errs <- err
						return
					}
					links = links[:0]
				}
			}
			for done.Load() < int64(b.N) {
				now := time.Now()
				got, err := f.Next(now, 1000)
				if err != nil {
					errs <- err
					return
				}
				for _, c := range got {
					if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, now); err != nil {
						errs <- err
						return
					}
				}
				if err := f.Commit(); err != nil {
					errs <- err
					return
				}
				done.Add(int64(len(got)))
				if len(got) == 0 {
					time.Sleep(time.Millisecond) // the other master's share is what is left
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	redisCPU := cpuOf() - before
	selfCPU := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N)/wall.Seconds(), "urls/s")
	b.ReportMetric(redisCPU*1e6/float64(b.N), "redis-µs/url")
	b.ReportMetric(float64(selfCPU.Microseconds())/float64(b.N), "master-µs/url")
	b.Logf("N=%d, %d master(s): %v wall, Redis CPU %.2f s over 3 primaries, masters' CPU %v", b.N, masters, wall.Round(time.Millisecond), redisCPU, selfCPU.Round(time.Millisecond))
}

// BenchmarkListHosts: what the dashboard's host listing (hosts.go) costs
// on a crawl of 100k and of 1M hosts with 3 URLs queued each (written
// straight into the partitions' keys: admitting them through the library
// would take minutes). Reported: wall time and Redis CPU per listing.
//
//	go test -run '^$' -bench ListHosts -benchtime 3x ./frontier/redisstore/
func BenchmarkListHosts(b *testing.B) {
	for _, hosts := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			node := redistest.StartRedis(b)
			opts := frontier.Options{LeaseTimeout: time.Minute}
			s, err := Open(opts, Config{Addrs: []string{node.Addr}, Crawl: "m", Partitions: 256, SeenBuckets: 4, Master: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			fillHosts(b, s, hosts, func(int) int { return 3 })
			b.ResetTimer()
			var redisCPU float64
			for range b.N {
				before := cpu(redisInfo(b, node.Addr, "cpu"))
				busiest, _, err := s.listHosts(ctx, 20)
				redisCPU += cpu(redisInfo(b, node.Addr, "cpu")) - before
				if err != nil || len(busiest) != 20 || busiest[0].Queued != 3 {
					b.Fatalf("listed %v (%v); want 20 hosts with 3 URLs each", busiest, err)
				}
			}
			b.ReportMetric(redisCPU/float64(b.N)*1000, "redis-cpu-ms/op")
		})
	}
}

// fillHosts writes hosts waiting hosts h0.example... into s's partitions,
// host i with size(i) URLs queued, ranked in ready by i.
func fillHosts(t testing.TB, s *Store, hosts int, size func(i int) int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	pipe := s.rdb.Pipeline()
	for i := range hosts {
		host := fmt.Sprintf("h%d.example", i)
		pfx := s.prefix(s.partitionOf(host))
		pipe.ZAdd(ctx, pfx+"ready", redis.Z{Score: float64(now + int64(i)), Member: host})
		for j := range size(i) {
			pipe.ZAdd(ctx, pfx+"q:"+host, redis.Z{Score: float64(now + int64(j)), Member: fmt.Sprintf("entry-%d", j)})
		}
		pipe.HSet(ctx, pfx+"clock", host, now+int64(i))
		if pipe.Len() >= 10_000 || i == hosts-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}
