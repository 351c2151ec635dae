package frontier

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"HTTP://Example.COM:80/a/b?x=1#frag", "http://example.com/a/b?x=1"},
		{"https://example.com:443", "https://example.com/"},
		{"http://example.com:8080/", "http://example.com:8080/"},
		{"  http://127.0.0.2:1234/page/1.html  ", "http://127.0.0.2:1234/page/1.html"},
		{"http://[::1]:80/x", "http://[::1]/x"},
		{"http://user:pw@example.com/", "http://user:pw@example.com/"},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "not a url", "ftp://example.com/", "mailto:a@b", "http:///path", "http://%zz/", "/relative", "http://x/" + string(make([]byte, MaxURLLength))} {
		if _, err := Normalize(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("Normalize(%q): err = %v, want ErrBadURL", bad, err)
		}
	}
}

// TestScope ports spyder's test_regex_scoper vector and checks the default
// scope (the seeds' hosts).
func TestScope(t *testing.T) {
	s, err := NewScope([]string{`^.*\.html`}, []string{`^.*\.avi`})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Allows("http://www.google.de/index.html") || s.Allows("ftp://www.google.de/pillepalle.avi") {
		t.Fatal("spyder's RegexScoper vector")
	}
	if !s.Allows("HTTP://WWW.GOOGLE.DE/INDEX.HTML") {
		t.Fatal("matching is case-insensitive")
	}
	hosts, _ := NewScope(nil, []string{`^https?://a\.example/private/`})
	hosts.AddSeed("http://a.example/")
	hosts.AddSeed("https://b.example:8443/start")
	for u, want := range map[string]bool{
		"http://a.example/x":         true,
		"https://a.example/y":        true,
		"http://b.example/z":         true,
		"http://c.example/":          false,
		"http://a.example.evil/":     false,
		"http://a.example/private/x": false,
	} {
		if hosts.Allows(u) != want {
			t.Errorf("Allows(%q) != %v", u, want)
		}
	}
	if _, err := NewScope([]string{"("}, nil); err == nil {
		t.Fatal("bad regex accepted")
	}
}

func TestRegistry(t *testing.T) {
	if !Registered("single_host") {
		t.Fatal("single_host not registered")
	}
	if _, err := Open("nope", Options{}); err == nil {
		t.Fatal("opened an unregistered frontier")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate Register did not panic")
		}
	}()
	Register("single_host", func(Options) (Frontier, error) { return nil, nil })
}

// TestSingleHostDueOrder ports spyder's test_frontier "get_next returns only
// due URLs, earliest first": 19 URLs, the even ones due in the past.
func TestSingleHostDueOrder(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	f := NewSingleHost(Options{})
	var urls []string
	for i := 1; i < 20; i++ {
		urls = append(urls, fmt.Sprintf("http://localhost/%d", i))
	}
	if n, _ := f.Add(urls, now); n != 19 {
		t.Fatalf("added %d", n)
	}
	// Re-date: even URLs were due i seconds ago, odd ones are due tomorrow.
	for _, e := range f.queue {
		var i int
		fmt.Sscanf(e.url, "http://localhost/%d", &i)
		if i%2 == 0 {
			e.due = now.Add(-time.Duration(i) * time.Second)
		} else {
			e.due = now.Add(24 * time.Hour)
		}
	}
	rebuild(f)
	var got []string
	for i := 0; i < 9; i++ {
		batch, err := f.Next(now, 1)
		if err != nil || len(batch) != 1 {
			t.Fatalf("Next #%d: %v %v", i, batch, err)
		}
		got = append(got, batch[0].URL)
	}
	for i, u := range got {
		if want := fmt.Sprintf("http://localhost/%d", 18-2*i); u != want {
			t.Fatalf("order: got %v", got)
		}
	}
	if batch, _ := f.Next(now, 10); len(batch) != 0 {
		t.Fatalf("not-yet-due URLs handed out: %v", batch)
	}
	if due := f.NextDue(now); !due.Equal(now.Add(24 * time.Hour)) {
		t.Fatalf("NextDue = %v", due)
	}
}

func rebuild(f *SingleHost) {
	old := f.queue
	f.queue = nil
	for _, e := range old {
		pushEntry(f, e)
	}
}

// TestSingleHostPoliteness ports spyder's time-politeness test: after a
// dispatch nothing is handed out before min_delay, and after a result not
// before max(factor x request time, min_delay).
func TestSingleHostPoliteness(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	f := NewSingleHost(Options{MinDelay: 2 * time.Second, CrawlDelayFactor: 4})
	f.Add([]string{"http://a/1", "http://a/2", "http://a/3"}, now)
	b, _ := f.Next(now, 10)
	if len(b) != 1 {
		t.Fatalf("politeness: %d URLs at once", len(b))
	}
	if b2, _ := f.Next(now.Add(1999*time.Millisecond), 10); len(b2) != 0 {
		t.Fatal("dispatched before min_delay")
	}
	// The fetch took 1s: the next request waits 4s after the result.
	res := &crawluri.CrawlUri{URL: b[0].URL, StatusCode: 200, ReqTime: 1}
	if _, err := f.Done(res, nil, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := f.NextDue(now); !got.Equal(now.Add(5 * time.Second)) {
		t.Fatalf("NextDue = %v, want +5s", got.Sub(now))
	}
	if b3, _ := f.Next(now.Add(4999*time.Millisecond), 10); len(b3) != 0 {
		t.Fatal("dispatched before factor x request time")
	}
	if b4, _ := f.Next(now.Add(5*time.Second), 10); len(b4) != 1 {
		t.Fatal("not dispatched when due")
	}
	// A hostile request time cannot stall the host forever.
	g := NewSingleHost(Options{CrawlDelayFactor: 4})
	g.Add([]string{"http://a/x"}, now)
	b, _ = g.Next(now, 1)
	g.Done(&crawluri.CrawlUri{URL: b[0].URL, StatusCode: 200, ReqTime: 1e300}, nil, now)
	if d := g.nextPossible.Sub(now); d != 4*maxReqTime {
		t.Fatalf("delay %v, want capped at %v", d, 4*maxReqTime)
	}
}

func TestSingleHostDedupDoneRelease(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	f := NewSingleHost(Options{})
	f.Add([]string{"http://a/1", "http://a/1", "http://a/2"}, now)
	if st := f.Stats(); st.Seen != 2 || st.Queued != 2 {
		t.Fatalf("dedup: %+v", st)
	}
	b, _ := f.Next(now, 10)
	if len(b) != 2 || f.Stats().InFlight != 2 {
		t.Fatalf("next: %v %+v", b, f.Stats())
	}
	added, err := f.Done(&crawluri.CrawlUri{URL: "http://a/1", StatusCode: 200}, []string{"http://a/2", "http://a/3"}, now)
	if err != nil || added != 1 {
		t.Fatalf("links: added %d, %v", added, err)
	}
	if _, err := f.Done(&crawluri.CrawlUri{URL: "http://a/1", StatusCode: 200}, nil, now); !errors.Is(err, ErrNotInFlight) {
		t.Fatalf("second result: %v", err)
	}
	if err := f.Release("http://a/2", now); err != nil {
		t.Fatal(err)
	}
	if err := f.Release("http://a/2", now); !errors.Is(err, ErrNotInFlight) {
		t.Fatalf("double release: %v", err)
	}
	b, _ = f.Next(now, 10)
	if len(b) != 2 {
		t.Fatalf("released URL not handed out again: %v", b)
	}
	f.Done(&crawluri.CrawlUri{URL: b[0].URL, StatusCode: 404}, nil, now)
	f.Done(&crawluri.CrawlUri{URL: b[1].URL, StatusCode: 599}, nil, now)
	st := f.Stats()
	if st.Done != 1 || st.Failed != 2 || !st.Idle() || st.Seen != 3 {
		t.Fatalf("final stats %+v", st)
	}
}

func BenchmarkSingleHostAddNextDone(b *testing.B) {
	f := NewSingleHost(Options{})
	now := time.Unix(1_000_000, 0)
	urls := make([]string, 1)
	res := &crawluri.CrawlUri{StatusCode: 200}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		urls[0] = fmt.Sprintf("http://host%d.example/page/%d.html", i%1000, i)
		i++
		f.Add(urls, now)
		batch, _ := f.Next(now, 1)
		res.URL = batch[0].URL
		f.Done(res, nil, now)
	}
}
