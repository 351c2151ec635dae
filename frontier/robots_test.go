// robots_test.go: robots.txt in the Pebble store: first fetch, rules, Crawl-delay, unreachable, expiry.

package frontier

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

func TestSplitOrigin(t *testing.T) {
	for _, tc := range []struct{ in, origin, path string }{
		{"http://a/", "http://a", "/"},
		{"http://a", "http://a", "/"},
		{"https://a:8443/x/y?q=1", "https://a:8443", "/x/y?q=1"},
		{"http://a?q", "http://a", "/?q"},
		{"http://user:pw@a:81/p#frag", "http://a:81", "/p"},
		{"http://a/p@q", "http://a", "/p@q"},
		{"http://[::1]:8080/x", "http://[::1]:8080", "/x"},
	} {
		o, p := urlx.SplitOrigin(tc.in)
		if o != tc.origin || p != tc.path {
			t.Errorf("urlx.SplitOrigin(%q) = %q %q, want %q %q", tc.in, o, p, tc.origin, tc.path)
		}
	}
}

// robotsOpts turns robots.txt on, with test-sized times.
func robotsOpts(o Options) Options {
	o.ObeyRobots, o.RobotsAgent = true, "spyder"
	if o.RobotsTTL == 0 {
		o.RobotsTTL = time.Hour
	}
	if o.MaxCrawlDelay == 0 {
		o.MaxCrawlDelay = 10 * time.Second
	}
	return o
}

// answer answers a dispatched URL.
func answer(t *testing.T, f *testFrontier, c *crawluri.CrawlUri, status int16, body string, now time.Time) {
	t.Helper()
	res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: status, ContentBody: []byte(body)}
	if _, err := f.Done(res, nil, now); err != nil {
		t.Fatal(err)
	}
}

// next is f.Next with the URLs in order.
func next(t *testing.T, f *testFrontier, at time.Time) []*crawluri.CrawlUri {
	t.Helper()
	b, err := f.Next(at, 10)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(b, func(i, j int) bool { return b[i].URL < b[j].URL })
	return b
}

func urls(cs []*crawluri.CrawlUri) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.URL
	}
	sort.Strings(out)
	return out
}

func TestRobotsFirstThenRules(t *testing.T) {
	for _, class := range []string{"single_host", "multiple_host"} {
		t.Run(class, func(t *testing.T) {
			now := time.Now()
			f := open(t, class, robotsOpts(Options{}))
			f.Add([]string{"http://a/", "http://a/private/x", "http://a/public", "http://a/private/y?z"}, now)
			b, _ := f.Next(now, 10)
			if got := urls(b); !slices.Equal(got, []string{"http://a/robots.txt"}) {
				t.Fatalf("first dispatch %v, want robots.txt alone", got)
			}
			if more, _ := f.Next(now.Add(time.Minute), 10); len(more) != 0 {
				t.Fatalf("dispatched %v while robots.txt is in flight", urls(more))
			}
			if s := f.Stats(); s.InFlight != 1 || s.Queued != 4 {
				t.Fatalf("stats with robots.txt in flight: %+v", s)
			}
			answer(t, f, b[0], 200, "User-agent: *\nDisallow: /private\n", now)

			var fetched []string
			for i := 0; i < 10; i++ {
				at := now.Add(time.Duration(i) * time.Minute)
				b, _ = f.Next(at, 10)
				for _, c := range b {
					fetched = append(fetched, c.URL)
					answer(t, f, c, 200, "", at)
				}
			}
			sort.Strings(fetched)
			if !slices.Equal(fetched, []string{"http://a/", "http://a/public"}) {
				t.Fatalf("fetched %v", fetched)
			}
			decided := urls(f.Decided())
			if !slices.Equal(decided, []string{"http://a/private/x", "http://a/private/y?z"}) {
				t.Fatalf("decided %v", decided)
			}
			if len(f.Decided()) != 0 {
				t.Fatal("Decided returned the same URLs twice")
			}
			s := f.Stats()
			if s.Disallowed != 2 || s.Done != 2 || s.Failed != 0 || s.Queued != 0 || s.InFlight != 0 || !s.Idle() {
				t.Fatalf("stats %+v", s)
			}
			rec, err := f.getRecord(urlx.KeyOf("http://a/private/x"))
			if err != nil || rec.state != stateFailed || rec.status != crawluri.StatusRobotsDisallowed {
				t.Fatalf("record of a disallowed URL: %+v %v", rec, err)
			}
			// A link to a disallowed URL found later is decided as well.
			f.Add([]string{"http://a/private/z"}, now.Add(time.Hour-time.Second))
			if b, _ := f.Next(now.Add(time.Hour-time.Second), 10); len(b) != 0 {
				t.Fatalf("dispatched %v", urls(b))
			}
			if d := f.Decided(); len(d) != 1 || d[0].StatusCode != crawluri.StatusRobotsDisallowed {
				t.Fatalf("late link: %v", d)
			}
		})
	}
}

// TestRobotsGateSingleHost: with single_host, which allows several URLs in
// flight, a robots.txt in flight still holds everything else back.
func TestRobotsGateSingleHost(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", robotsOpts(Options{}))
	f.Add([]string{"http://a/1", "http://a/2", "http://b/1"}, now)
	b, _ := f.Next(now, 10)
	if len(b) != 1 || b[0].URL != "http://a/robots.txt" {
		t.Fatalf("first %v", urls(b))
	}
	answer(t, f, b[0], 404, "", now)
	// a's URLs go (several in flight, as single_host allows) until b's
	// robots.txt comes up; then nothing until its result.
	b, _ = f.Next(now, 10)
	if got := urls(b); !slices.Equal(got, []string{"http://a/1", "http://a/2", "http://b/robots.txt"}) {
		t.Fatalf("second round %v", got)
	}
	if more, _ := f.Next(now.Add(time.Minute), 10); len(more) != 0 {
		t.Fatalf("dispatched %v with b's robots.txt in flight", urls(more))
	}
	answer(t, f, b[2], 200, "User-agent: spyder\nDisallow: /\n\nUser-agent: *\nAllow: /\n", now)
	if more, _ := f.Next(now, 10); len(more) != 0 {
		t.Fatalf("dispatched %v; b disallows spyder", urls(more))
	}
	if d := urls(f.Decided()); !slices.Equal(d, []string{"http://b/1"}) {
		t.Fatalf("decided %v", d)
	}
}

func TestRobotsCrawlDelay(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", robotsOpts(Options{MinDelay: time.Second, MaxCrawlDelay: 5 * time.Second}))
	f.Add([]string{"http://a/1", "http://a/2", "http://b/1", "http://b/2"}, now)
	b, _ := f.Next(now, 10)
	for _, c := range b {
		body := "User-agent: *\nCrawl-delay: 3\n"
		if urlx.Host(c.URL) == "b" {
			body = "User-agent: *\nCrawl-delay: 3600\n" // capped at 5s
		}
		answer(t, f, c, 200, body, now)
	}
	// The robots.txt fetch itself is followed by the crawl delay.
	if b, _ := f.Next(now.Add(2999*time.Millisecond), 10); len(b) != 0 {
		t.Fatalf("dispatched %v within a's crawl delay", urls(b))
	}
	b, _ = f.Next(now.Add(3*time.Second), 10)
	if got := urls(b); !slices.Equal(got, []string{"http://a/1"}) {
		t.Fatalf("at +3s: %v", got)
	}
	answer(t, f, b[0], 200, "", now.Add(3*time.Second))
	b, _ = f.Next(now.Add(5*time.Second), 10)
	if got := urls(b); !slices.Equal(got, []string{"http://b/1"}) {
		t.Fatalf("at +5s: %v (b's delay is capped at 5s)", got)
	}
	if b, _ := f.Next(now.Add(5999*time.Millisecond), 10); len(b) != 0 {
		t.Fatalf("dispatched %v within a's crawl delay after a page", urls(b))
	}
	if b, _ := f.Next(now.Add(6*time.Second), 10); len(b) != 1 || b[0].URL != "http://a/2" {
		t.Fatalf("at +6s: %v", urls(b))
	}

	// With single_host the pause starts at dispatch.
	g := open(t, "single_host", robotsOpts(Options{MinDelay: time.Second}))
	g.Add([]string{"http://a/1", "http://a/2"}, now)
	b, _ = g.Next(now, 10)
	answer(t, g, b[0], 200, "User-agent: *\nCrawl-delay: 4\n", now)
	b, _ = g.Next(now.Add(4*time.Second), 10)
	if len(b) != 1 {
		t.Fatalf("single_host at +4s: %v", urls(b))
	}
	if more, _ := g.Next(now.Add(7999*time.Millisecond), 10); len(more) != 0 {
		t.Fatalf("single_host dispatched %v within the crawl delay", urls(more))
	}
}

func TestRobotsUnreachable(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", robotsOpts(Options{MaxRetries: 2, RetryBackoff: 10 * time.Second}))
	f.Add([]string{"http://a/1", "http://a/2"}, now)
	at := now
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		b, _ := f.Next(at, 10)
		if len(b) != 1 || b[0].URL != "http://a/robots.txt" {
			t.Fatalf("try %d: %v", i+1, urls(b))
		}
		answer(t, f, b[0], 503, "", at)
		if b, _ := f.Next(at.Add(wait-time.Millisecond), 10); len(b) != 0 {
			t.Fatalf("try %d: dispatched %v while the host waits for its robots.txt", i+1, urls(b))
		}
		at = at.Add(wait)
	}
	// The third failure is past the retries: the origin is disallowed.
	b, _ := f.Next(at, 10)
	if len(b) != 1 || b[0].URL != "http://a/robots.txt" {
		t.Fatalf("last try: %v", urls(b))
	}
	res := &crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: crawluri.StatusTransportError, Error: "connection refused"}
	if _, err := f.Done(res, nil, at); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.Next(at, 10); len(b) != 0 {
		t.Fatalf("dispatched %v", urls(b))
	}
	d := f.Decided()
	if len(d) != 2 || d[0].StatusCode != crawluri.StatusRobotsUnreachable {
		t.Fatalf("decided %v", d)
	}
	if s := f.Stats(); s.Disallowed != 2 || !s.Idle() {
		t.Fatalf("stats %+v", s)
	}
	// An hour later the file is tried again before a new URL.
	f.Add([]string{"http://a/3"}, at)
	later := at.Add(robotsUnreachableTTL)
	b, _ = f.Next(later, 10)
	if len(b) != 1 || b[0].URL != "http://a/robots.txt" {
		t.Fatalf("after the hold: %v", urls(b))
	}
	answer(t, f, b[0], 404, "", later)
	if b, _ := f.Next(later, 10); len(b) != 1 || b[0].URL != "http://a/3" {
		t.Fatalf("after a 404: %v", urls(b))
	}
}

// TestRobotsExpiryAndRestart: rules are stored and used after a restart
// until they expire; a robots.txt in flight at a stop is fetched again; a
// robots.txt lease that ends without a result is asked for again.
func TestRobotsExpiryAndRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	opts := robotsOpts(Options{Dir: dir, RobotsTTL: time.Hour})
	f := open(t, "multiple_host", opts)
	f.Add([]string{"http://a/1", "http://a/no", "http://a/2", "http://b/1"}, now)
	b := next(t, f, now)
	if got := urls(b); !slices.Equal(got, []string{"http://a/robots.txt", "http://b/robots.txt"}) {
		t.Fatalf("first %v", got)
	}
	answer(t, f, b[0], 200, "User-agent: *\nDisallow: /no\n", now)
	// b's robots.txt is handed back unfetched: asked for again.
	if err := f.Release(b[1].LeaseID, now); err != nil {
		t.Fatal(err)
	}
	b2 := next(t, f, now)
	if got := urls(b2); !slices.Equal(got, []string{"http://a/1", "http://b/robots.txt"}) {
		t.Fatalf("after the release %v", got)
	}
	answer(t, f, b2[0], 200, "", now)
	// Stop with b's robots.txt in flight.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	g := open(t, "multiple_host", opts)
	b = next(t, g, now)
	if got := urls(b); !slices.Equal(got, []string{"http://a/2", "http://b/robots.txt"}) {
		t.Fatalf("after the restart %v (a's rules are stored)", got)
	}
	if d := urls(g.Decided()); !slices.Equal(d, []string{"http://a/no"}) {
		t.Fatalf("decided after the restart: %v", d)
	}
	answer(t, g, b[0], 200, "", now)
	answer(t, g, b[1], 200, "", now.Add(30*time.Minute))
	// An hour on, a's rules are stale: its robots.txt goes before its next URL.
	g.Add([]string{"http://a/3"}, now)
	later := now.Add(time.Hour)
	b = next(t, g, later)
	if got := urls(b); !slices.Equal(got, []string{"http://a/robots.txt", "http://b/1"}) {
		t.Fatalf("after the TTL %v", got)
	}
	// The lease runs out; the refetch is asked for again.
	if exp, _ := g.Expire(later.Add(2 * time.Minute)); len(exp) != 2 {
		t.Fatalf("expired %v", exp)
	}
	b = next(t, g, later.Add(2*time.Minute))
	if got := urls(b); !slices.Equal(got, []string{"http://a/robots.txt", "http://b/1"}) {
		t.Fatalf("after the expiry %v", got)
	}
}
