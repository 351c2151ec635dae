package frontier

import (
	"fmt"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

// TestSeenCacheGenerations: a key stays while it is used; one unused for
// two generations is dropped.
func TestSeenCacheGenerations(t *testing.T) {
	c := newSeenCache(2)
	key := func(i int) urlx.Key { return urlx.KeyOf(fmt.Sprintf("http://a/%d", i)) }
	c.add(key(1))
	c.add(key(2))
	c.add(key(3)) // 1, 2 become the old generation
	if !c.has(key(1)) {
		t.Fatal("key 1 lost after one generation")
	}
	// has(1) copied it into the newer generation: {3, 1}.
	c.add(key(4)) // old {3, 1}; 2 dropped
	if c.has(key(2)) {
		t.Error("key 2, unused for two generations, still cached")
	}
	for _, i := range []int{1, 3, 4} {
		if !c.has(key(i)) {
			t.Errorf("key %d lost", i)
		}
	}
	if c.has(key(5)) {
		t.Error("a key never added is cached")
	}
}

// TestSeenSetThroughTheCache: with a cache far smaller than the seen set,
// every known URL is refused and every new one admitted, whether the
// cache, the open batch or the committed store knows it, across a
// restart; a URL the per-host cap refused is not taken for seen.
func TestSeenSetThroughTheCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f := open(t, "multiple_host", Options{Dir: dir, MaxURLsPerHost: 60})
	f.seen = newSeenCache(8)
	urls := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("http://h%d/%d", i%3, i))
		}
		return out
	}
	if n, err := f.Add(urls(0, 50), now); err != nil || n != 50 {
		t.Fatalf("first 50: %d added, %v", n, err)
	}
	// Known in the open batch (the cache holds only the last 8-16).
	if n, _ := f.Add(urls(0, 50), now); n != 0 {
		t.Fatalf("%d of 50 known URLs admitted again before the commit", n)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	// Known in the store; half of them new, the rest known.
	if n, _ := f.Add(urls(25, 75), now); n != 25 {
		t.Fatalf("%d of urls 25..74 admitted, want the 25 new", n)
	}
	// h0 holds 25 URLs (0, 3, ..., 72); with a cap of 60 per host, of 150
	// new URLs 50 per host, h0 takes 35 (and so do h1, h2).
	if n, _ := f.Add(urls(75, 225), now); n != 105 {
		t.Fatalf("%d of urls 75..224 admitted, want 105 (the per-host cap 60)", n)
	}
	capped := "http://h0/222" // refused by the cap, so not seen
	if f.seen.has(urlx.KeyOf(capped)) {
		t.Fatal("a URL the cap refused is cached as seen")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	g := open(t, "multiple_host", Options{Dir: dir})
	g.seen = newSeenCache(8)
	if n, _ := g.Add(urls(0, 75), now); n != 0 {
		t.Fatalf("%d known URLs admitted after a restart", n)
	}
	if n, _ := g.Add([]string{capped, "http://h9/new"}, now); n != 2 {
		t.Fatalf("%d admitted of a URL the cap once refused and a new one, want 2", n)
	}
	// Links of a result go the same way.
	b, _ := g.Next(now, 1)
	added, err := g.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200},
		append(urls(0, 10), "http://h9/new", "http://h9/newer"), now)
	if err != nil || added != 1 {
		t.Fatalf("links of a result: %d added, %v; want 1 (h9/newer)", added, err)
	}
}
