// migrate_test.go: a crawl moved from a state directory into Redis and
// back keeps every URL with its state, history, due time and validators,
// every host's clock, hold, delay and count, robots.txt rules and the
// counters.

package redisstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/redistest"
)

// memSink collects what a Dumper reads.
type memSink struct {
	seeds   []string
	hosts   map[string]frontier.HostSnapshot
	robots  map[string]frontier.RobotsRules
	cookies map[string]string
	urls    map[string]frontier.URLSnapshot
	order   []string // URLs in the order read
	st      frontier.Stats
}

func newMemSink() *memSink {
	return &memSink{hosts: map[string]frontier.HostSnapshot{}, robots: map[string]frontier.RobotsRules{}, cookies: map[string]string{}, urls: map[string]frontier.URLSnapshot{}}
}

func (m *memSink) SeedHosts(h []string) error { m.seeds = append(m.seeds, h...); return nil }
func (m *memSink) Host(h frontier.HostSnapshot) error {
	if h != (frontier.HostSnapshot{Host: h.Host}) { // (one store lists hosts with nothing to move)
		m.hosts[h.Host] = h
	}
	return nil
}
func (m *memSink) Robots(o string, r frontier.RobotsRules) error { m.robots[o] = r; return nil }
func (m *memSink) Cookie(k, v string) error                      { m.cookies[k] = v; return nil }
func (m *memSink) Counters(st frontier.Stats) error              { m.st = st; return nil }
func (m *memSink) Close() error                                  { return nil }
func (m *memSink) URL(u *frontier.URLSnapshot) error {
	if _, dup := m.urls[u.URL]; dup {
		return fmt.Errorf("%s read twice", u.URL)
	}
	m.urls[u.URL] = *u
	m.order = append(m.order, u.URL)
	return nil
}

// dump reads src out, and closes it.
func dump(t *testing.T, src frontier.Source) *memSink {
	t.Helper()
	defer src.Close()
	m := newMemSink()
	if _, err := src.Dump(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// opener returns what takes an opened Source (or fails the test), closed
// when the test ends (closing again does no harm).
func opener(t *testing.T) func(frontier.Source, error) frontier.Source {
	return func(src frontier.Source, err error) frontier.Source {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}
}

// buildCrawl makes a stopped Pebble crawl with a URL in every state.
func buildCrawl(t *testing.T, opts frontier.Options) {
	f, err := frontier.Open("multiple_host", opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := f.AddSeeds([]string{"http://a.test/", "http://b.test/", "https://c.test/x"}, now); err != nil {
		t.Fatal(err)
	}
	robots := "User-agent: *\nDisallow: /private\nCrawl-delay: 0.2\n"
	answered := map[string]bool{}
	for round := 0; round < 40 && len(answered) < 8; round++ {
		got, err := f.Next(time.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}
			var links []string
			switch u := c.URL; {
			case strings.HasSuffix(u, "/robots.txt"):
				res.ContentBody = []byte(robots)
			case u == "http://a.test/":
				res.RepHeader = map[string]string{"Etag": `"a1"`, "Last-Modified": "Mon, 02 Jan 2026 10:00:00 GMT"}
				res.WARCCapture = "sha1:AAAA <urn:uuid:1> 2026-12-05T10:00:00Z http://a.test/"
				links = []string{"http://a.test/private", "http://a.test/1", "http://a.test/2", "http://b.test/3", "http://a.test/4", "https://c.test/y"}
			case u == "http://b.test/":
				res.StatusCode = 503
			case u == "https://c.test/x":
				res.StatusCode = 404
			case u == "http://a.test/1":
				continue // left in flight at the stop
			}
			answered[c.URL] = true
			if _, err := f.Done(res, links, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if err := f.SetHostDelay("b.test", 2*time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.BlockHost("c.test", time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Fatal(err)
	}
	keep, ok := frontier.Cookies(f)
	if !ok {
		t.Fatal("the Pebble store keeps no cookies")
	}
	if err := keep.SaveCookie("a.test\x00sid\x00\x00/", "http://a.test/\tsid=1; Path=/"); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateToRedisAndBack: a state directory read out (A), migrated into
// Redis and read out there (B), migrated back into a new state directory
// and read out (C): A, B and C say the same.
func TestMigrateToRedisAndBack(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.ObeyRobots, opts.MaxCrawlDelay, opts.MaxURLsPerHost = true, time.Second, 100
	opts.CrawlDelta, opts.NumPriorities = time.Hour, 3
	opts.KeepDiscovery = true
	opts.Dir = t.TempDir()
	buildCrawl(t, opts)
	open := opener(t)
	a := dump(t, open(frontier.OpenDir(opts.Dir)))
	if a.urls["http://a.test/1"].Returned != true || a.urls["http://a.test/"].State != frontier.URLScheduled || a.urls["http://a.test/"].WARCCapture == "" || a.urls["http://a.test/2"].HopPath != "L" ||
		a.urls["http://b.test/"].Attempts != 1 || a.urls["https://c.test/x"].State != frontier.URLFailed {
		t.Fatalf("the crawl built is not the one the test needs: %+v", a.urls)
	}

	cfg := Config{Addrs: []string{node.Addr}, Crawl: "moved", Partitions: 8, SeenBuckets: 2}
	sink, err := NewSink(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := frontier.Migrate(open(frontier.OpenDir(opts.Dir)), sink)
	if err != nil {
		t.Fatal(err)
	}
	if m.URLs != int64(len(a.urls)) || m.Returned != 1 || m.Robots != 3 || m.Source.Orphans != 0 {
		t.Fatalf("migrated %+v; the source has %d URLs", m, len(a.urls))
	}
	if _, err := NewSink(cfg, opts); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second migration into the crawl: %v", err)
	}
	b := dump(t, open(OpenSource(cfg)))
	sameCrawl(t, "Redis", a, b)

	back := opts
	back.Dir = t.TempDir()
	dirSink, err := frontier.NewDirSink("multiple_host", back)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := frontier.Migrate(open(OpenSource(cfg)), dirSink); err != nil {
		t.Fatal(err)
	}
	c := dump(t, open(frontier.OpenDir(back.Dir)))
	sameCrawl(t, "back in a state directory", a, c)
	if _, err := frontier.NewDirSink("multiple_host", back); err == nil || !strings.Contains(err.Error(), "holds a crawl") {
		t.Fatalf("a second migration into the directory: %v", err)
	}

	// The crawl goes on in Redis: the URL that was in flight comes first,
	// once the host's clock (set by the Pebble crawl) allows.
	_, f := testStore(t, cfg.Addrs, "m1", opts, func(c *Config) { c.Crawl = "moved" })
	var got []string
	for _, c := range nextAll(t, f, 3, 3*time.Second) {
		got = append(got, c.URL)
	}
	if len(got) == 0 || !slices.Contains(got, "http://a.test/1") {
		t.Fatalf("dispatched %v on Redis; the URL in flight at the stop (http://a.test/1) was not among them", got)
	}
	if slices.Contains(got, "https://c.test/y") {
		t.Fatalf("dispatched %v: c.test's block for an hour did not move with the crawl", got)
	}
}

// sameCrawl compares two read-outs of one crawl, to the millisecond (Redis
// keeps times in ms) and, for URLs never fetched, their admission to the
// second (all a Redis queue entry keeps).
func sameCrawl(t *testing.T, where string, a, b *memSink) {
	t.Helper()
	near := func(x, y time.Time, d time.Duration) bool {
		return x.IsZero() == y.IsZero() && x.Sub(y) <= d && y.Sub(x) <= d
	}
	if fmt.Sprint(slices.Sorted(slices.Values(a.seeds))) != fmt.Sprint(slices.Sorted(slices.Values(b.seeds))) {
		t.Errorf("%s: seed hosts %v, want %v", where, b.seeds, a.seeds)
	}
	if fmt.Sprint(a.cookies) != fmt.Sprint(b.cookies) || len(a.cookies) != 1 {
		t.Errorf("%s: cookies %q, want %q", where, b.cookies, a.cookies)
	}
	if a.st.Done != b.st.Done || a.st.Failed != b.st.Failed || a.st.Retried != b.st.Retried || a.st.Disallowed != b.st.Disallowed || a.st.TooMany != b.st.TooMany {
		t.Errorf("%s: counters %+v, want %+v", where, b.st, a.st)
	}
	for url, u := range a.urls {
		v, ok := b.urls[url]
		if !ok {
			t.Errorf("%s: %s is missing", where, url)
			continue
		}
		if u.State != v.State || u.Status != v.Status || u.Attempts != v.Attempts || u.Level != v.Level || u.Depth != v.Depth ||
			u.Returned != v.Returned || u.Seed != v.Seed || u.ETag != v.ETag || u.LastModified != v.LastModified || u.WARCCapture != v.WARCCapture ||
			!near(u.Due, v.Due, time.Millisecond) || len(u.History) != len(v.History) {
			t.Errorf("%s: %s is\n %+v\nwant\n %+v", where, url, v, u)
			continue
		}
		if u.Queued() && (u.Via != v.Via || u.HopPath != v.HopPath) {
			// (Redis keeps how a URL was found while it is queued)
			t.Errorf("%s: %s found on %q by %q, want %q by %q", where, url, v.Via, v.HopPath, u.Via, u.HopPath)
		}
		slack := time.Millisecond
		if !u.Fetched() {
			slack = time.Second
		}
		for i := range u.History {
			e, f := u.History[i], v.History[i]
			if e.Kind != f.Kind || e.State != f.State || e.Value != f.Value || !near(e.At, f.At, slack) {
				t.Errorf("%s: %s event %d is %+v, want %+v", where, url, i, f, e)
			}
		}
	}
	if len(b.urls) != len(a.urls) {
		t.Errorf("%s: %d URLs, want %d", where, len(b.urls), len(a.urls))
	}
	for h, x := range a.hosts {
		y := b.hosts[h]
		if !near(x.NextAllowed, y.NextAllowed, time.Millisecond) || !near(x.HeldUntil, y.HeldUntil, time.Millisecond) ||
			x.Delay != y.Delay || x.HasDelay != y.HasDelay || x.Admitted != y.Admitted {
			t.Errorf("%s: host %s is %+v, want %+v", where, h, y, x)
		}
	}
	if len(b.hosts) != len(a.hosts) {
		t.Errorf("%s: hosts %v, want %v", where, b.hosts, a.hosts)
	}
	for o, x := range a.robots {
		y, ok := b.robots[o]
		xr, _ := x.Rules.MarshalBinary()
		yr, _ := y.Rules.MarshalBinary()
		if !ok || string(xr) != string(yr) || !near(x.Expires, y.Expires, time.Millisecond) || x.Attempts != y.Attempts {
			t.Errorf("%s: robots.txt of %s is %+v, want %+v", where, o, y, x)
		}
	}
	if len(b.robots) != len(a.robots) {
		t.Errorf("%s: %d robots.txt rules, want %d", where, len(b.robots), len(a.robots))
	}
}
