// hostctl_test.go: per-host controls and caps: delays, blocks, max_depth, max_urls_per_host.

package frontier

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

// TestHostControl: an operator's delay for one host replaces MinDelay for
// it, a block holds a host until its time, both survive a restart, and a
// negative delay goes back to the default.
func TestHostControl(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	opts := Options{Dir: dir, MinDelay: time.Second}
	f := open(t, "multiple_host", opts)
	f.Add([]string{"http://a/1", "http://a/2", "http://a/3", "http://a/4", "http://b/1", "http://b/2", "http://c/1", "http://c/2"}, now)
	if err := f.SetHostDelay("a", 5*time.Second, now); err != nil {
		t.Fatal(err)
	}
	if err := f.BlockHost("c", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	b := next(t, f, now)
	if got := urls(b); !slices.Equal(got, []string{"http://a/1", "http://b/1"}) {
		t.Fatalf("first round %v (c is blocked)", got)
	}
	if n := f.BlockedQueues(now); n != 1 {
		t.Fatalf("%d blocked queues, want 1 (c)", n)
	}
	for _, c := range b {
		answer(t, f, c, 200, "", now)
	}
	if got := urls(next(t, f, now.Add(time.Second))); !slices.Equal(got, []string{"http://b/2"}) {
		t.Fatalf("at +1s: %v (a waits 5s)", got)
	}
	if got := urls(next(t, f, now.Add(5*time.Second))); !slices.Equal(got, []string{"http://a/2"}) {
		t.Fatalf("at +5s: %v", got)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	g := open(t, "multiple_host", opts)
	later := now.Add(time.Minute) // a/2 and b/2 were in flight at the stop: queued again
	b = next(t, g, later)
	if got := urls(b); !slices.Equal(got, []string{"http://a/2", "http://b/2"}) {
		t.Fatalf("after the restart %v (c still blocked)", got)
	}
	for _, c := range b {
		answer(t, g, c, 200, "", later)
	}
	if got := urls(next(t, g, later.Add(4*time.Second))); len(got) != 0 {
		t.Fatalf("a's delay was lost in the restart: %v", got)
	}
	// Back to the default: from the next request on (the pause running
	// now stands).
	if err := g.SetHostDelay("a", -1, later); err != nil {
		t.Fatal(err)
	}
	b = next(t, g, later.Add(5*time.Second))
	if got := urls(b); !slices.Equal(got, []string{"http://a/3"}) {
		t.Fatalf("at +5s: %v", got)
	}
	answer(t, g, b[0], 200, "", later.Add(5*time.Second))
	if got := urls(next(t, g, later.Add(6*time.Second))); !slices.Equal(got, []string{"http://a/4"}) {
		t.Fatalf("a back to the default delay: %v", got)
	}
	if n := g.BlockedQueues(later); n != 1 {
		t.Fatalf("%d blocked queues after the restart, want 1 (c)", n)
	}
	if got := urls(next(t, g, now.Add(time.Hour))); !slices.Equal(got, []string{"http://c/1"}) {
		t.Fatalf("c after its block: %v", got)
	}
	if n := g.BlockedQueues(now.Add(time.Hour)); n != 0 {
		t.Fatalf("%d blocked queues after the block, want 0", n)
	}
}

// TestMaxDepth: links more than MaxDepth away from a seed are left out and
// counted; depth survives in the URL record (and records written before it
// was kept still decode, at depth 0).
func TestMaxDepth(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{MaxDepth: 2})
	f.AddSeeds([]string{"http://a/0"}, now)
	for depth := 1; depth <= 3; depth++ {
		b := next(t, f, now)
		if len(b) != 1 {
			t.Fatalf("depth %d: %v", depth, urls(b))
		}
		res := &crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200}
		added, err := f.Done(res, []string{fmt.Sprintf("http://a/%d", depth)}, now)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[depth <= 2]; added != want {
			t.Fatalf("link at depth %d: %d added", depth, added)
		}
	}
	if s := f.Stats(); s.TooDeep != 1 || s.Seen != 3 {
		t.Fatalf("stats %+v", s)
	}
	rec, err := f.getRecord(urlx.KeyOf("http://a/2"))
	if err != nil || rec.depth != 2 {
		t.Fatalf("record of depth 2: %+v %v", rec, err)
	}
	old := rec.encode()
	back, err := decodeURLRecord(old[:len(old)-2])
	if err != nil || back.depth != 0 || back.url != rec.url {
		t.Fatalf("a record without depth: %+v %v", back, err)
	}
}

// TestMaxURLsPerHost: a host gets MaxURLsPerHost URLs and no more, also
// after a restart; other hosts are not affected.
func TestMaxURLsPerHost(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	opts := Options{Dir: dir, MaxURLsPerHost: 3}
	f := open(t, "multiple_host", opts)
	n, err := f.Add([]string{"http://a/1", "http://a/2", "http://a/1", "http://b/1", "http://a/3", "http://a/4", "http://a/5"}, now)
	if err != nil || n != 4 {
		t.Fatalf("added %d, %v; want a/1-3 and b/1", n, err)
	}
	if s := f.Stats(); s.TooMany != 2 {
		t.Fatalf("stats %+v", s)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g := open(t, "multiple_host", opts)
	if n, _ := g.Add([]string{"http://a/6", "http://b/2"}, now); n != 1 {
		t.Fatalf("after the restart: %d added, want b/2 only", n)
	}
	if s := g.Stats(); s.TooMany != 3 {
		t.Fatalf("stats after the restart %+v", s)
	}
}
