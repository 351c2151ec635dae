package frontier_test

import (
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/frontier/frontiertest"
)

// TestHostLists: the Pebble store lists the busiest queues and the held
// ones, saying why each is held (frontiertest.HostLists).
func TestHostLists(t *testing.T) {
	f, err := frontier.Open("multiple_host", frontier.Options{Dir: t.TempDir(), MaxRetries: 2, MaxRetryAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	frontiertest.HostLists(t, f, time.Second)
}
