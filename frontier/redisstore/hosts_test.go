package redisstore

import (
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
