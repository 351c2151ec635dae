package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/frontier/frontiertest"
	"github.com/spyder-crawl/spyder/internal/redistest"
)

// TestHostLists: as the Pebble store, the Redis store lists the busiest
// hosts of the crawl and the held ones, telling an operator's block from
// a Retry-After (frontiertest.HostLists), in the background.
func TestHostLists(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.MinDelay, opts.MaxRetryAfter = 0, time.Hour
	_, f := testStore(t, []string{node.Addr}, "m", opts, nil)
	frontiertest.HostLists(t, f.(committing).Frontier, 5*time.Second)
}

// TestHostListsOverWindows: partitions of thousands of hosts are read a
// window at a time; the largest queues are found wherever they rank.
func TestHostListsOverWindows(t *testing.T) {
	node := redistest.StartRedis(t)
	s, _ := testStore(t, []string{node.Addr}, "m", testOpts(t), func(c *Config) { c.Partitions = 2 })
	const hosts = 3 * hostsChunk
	big := map[int]int{7: 40, hostsChunk + 1: 50, hosts - 1: 30} // host -> URLs
	fillHosts(t, s, hosts, func(i int) int {
		if n, ok := big[i]; ok {
			return n
		}
		return 1 + i%5
	})
	busiest, held, err := s.listHosts(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range busiest {
		got = append(got, fmt.Sprintf("%s:%d", r.Name, r.Queued))
	}
	want := []string{fmt.Sprintf("h%d.example:50", hostsChunk+1), "h7.example:40", fmt.Sprintf("h%d.example:30", hosts-1)}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(held) != 0 {
		t.Fatalf("busiest %v, held %v; want %v and none", got, held, want)
	}
}
