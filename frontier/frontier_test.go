// frontier_test.go: the frontier through its interface: order, politeness, leases, restarts, statuses.

package frontier

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

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

// testFrontier is a Frontier as Open returns it (the policy over the
// store), with its Pebble store at hand for the tests that look inside.
type testFrontier struct {
	*crawl
	*Durable
}

func open(t testing.TB, name string, opts Options) *testFrontier {
	t.Helper()
	f, err := Open(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	c := f.(*crawl)
	return &testFrontier{c, c.Store.(*Durable)}
}

// redate moves the queued URL u to due, as spyder's test back-dated rows.
func redate(t *testing.T, f *testFrontier, u string, due time.Time) {
	t.Helper()
	k := urlx.KeyOf(u)
	rec, err := f.getRecord(k)
	if err != nil {
		t.Fatal(err)
	}
	// Drop its queue entry and enqueue it again at the new time.
	q := f.queues.get(rec.queue)
	q.dropBuffer()
	p := queuePrefix(q.id)
	it, _ := f.b.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upperBound(p)})
	for it.First(); it.Valid(); it.Next() {
		if string(it.Value()[:16]) == string(k[:]) {
			f.b.Delete(append([]byte(nil), it.Key()...), nil)
		}
	}
	it.Close()
	q.queued--
	f.stats.Queued--
	rec.due = due.UnixNano()
	rec.status = 200 // a known URL, as the rows of spyder's test were
	f.b.Set(urlKey(k), rec.encode(), nil)
	if err := f.enqueue(k, &rec, q); err != nil {
		t.Fatal(err)
	}
	if err := f.refreshHead(q); err != nil {
		t.Fatal(err)
	}
	f.touch(q, time.Now())
}

// refreshHead reads the due time of q's first queued URL from the store,
// for redate.
func (f *Durable) refreshHead(q *queueState) error {
	q.dropBuffer()
	it, err := f.iterFrom(q)
	if err != nil {
		return err
	}
	ok := it.First()
	for ok && f.isLeased(it.Key()) {
		ok = it.Next()
	}
	if ok {
		q.headDue = queueKeyDue(it.Key())
	} else {
		q.queued = 0
	}
	return it.Error()
}

// TestDueOrder ports spyder's test_frontier "get_next returns only due URLs,
// earliest first": 19 URLs, the even ones due in the past.
func TestDueOrder(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{})
	var urls []string
	for i := 1; i < 20; i++ {
		urls = append(urls, fmt.Sprintf("http://localhost/%d", i))
	}
	if n, _ := f.Add(urls, now); n != 19 {
		t.Fatalf("added %d", n)
	}
	for i := 1; i < 20; i++ {
		due := now.Add(24 * time.Hour)
		if i%2 == 0 {
			due = now.Add(-time.Duration(i) * time.Second)
		}
		redate(t, f, urls[i-1], due)
	}
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
	if due := f.NextDue(now); due.Sub(now) < 23*time.Hour {
		t.Fatalf("NextDue = %v from now", due.Sub(now))
	}
}

// TestPoliteness ports spyder's time-politeness test: after a dispatch
// nothing is handed out before min_delay, and after a result not before
// max(factor x request time, min_delay).
func TestPoliteness(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{MinDelay: 2 * time.Second, CrawlDelayFactor: 4})
	f.Add([]string{"http://a/1", "http://a/2", "http://a/3"}, now)
	b, _ := f.Next(now, 10)
	if len(b) != 1 {
		t.Fatalf("politeness: %d URLs at once", len(b))
	}
	if b2, _ := f.Next(now.Add(1999*time.Millisecond), 10); len(b2) != 0 {
		t.Fatal("dispatched before min_delay")
	}
	// The fetch took 1s: the next request waits 4s after the result.
	res := &crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200, ReqTime: 1}
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
	// A hostile request time cannot stall the queue forever.
	g := open(t, "single_host", Options{CrawlDelayFactor: 4})
	g.Add([]string{"http://a/x"}, now)
	b, _ = g.Next(now, 1)
	g.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200, ReqTime: 1e300}, nil, now)
	if d := time.Unix(0, g.queue("*", now).grp.nextAllowed).Sub(now); d != 4*maxReqTime {
		t.Fatalf("delay %v, want capped at %v", d, 4*maxReqTime)
	}
}

// TestMultipleHostPoliteness: one URL per host in flight, each host on its
// own clock.
func TestMultipleHostPoliteness(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{MinDelay: time.Second})
	f.Add([]string{"http://a/1", "http://a/2", "http://b/1", "http://b/2", "http://c/1"}, now)
	b, _ := f.Next(now, 10)
	hosts := map[string]bool{}
	for _, c := range b {
		hosts[urlx.Host(c.URL)] = true
	}
	if len(b) != 3 || len(hosts) != 3 {
		t.Fatalf("first round: %v", b)
	}
	if more, _ := f.Next(now.Add(time.Hour), 10); len(more) != 0 {
		t.Fatalf("a second URL of a host while one is in flight: %v", more)
	}
	for _, c := range b {
		f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, now)
	}
	if more, _ := f.Next(now.Add(999*time.Millisecond), 10); len(more) != 0 {
		t.Fatalf("before the host's delay: %v", more)
	}
	if more, _ := f.Next(now.Add(time.Second), 10); len(more) != 2 {
		t.Fatalf("after the delay: %v", more)
	}
}

func TestLeasesDoneRelease(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{LeaseTimeout: time.Minute})
	f.Add([]string{"http://a/1", "http://a/1", "http://a/2"}, now)
	if st := f.Stats(); st.Seen != 2 || st.Queued != 2 {
		t.Fatalf("dedup: %+v", st)
	}
	b, _ := f.Next(now, 10)
	if len(b) != 2 || f.Stats().InFlight != 2 || b[0].LeaseID == 0 || b[0].LeaseID == b[1].LeaseID {
		t.Fatalf("next: %v %+v", b, f.Stats())
	}
	one, two := b[0], b[1]
	added, err := f.Done(&crawluri.CrawlUri{URL: one.URL, LeaseID: one.LeaseID, StatusCode: 200}, []string{"http://a/2", "http://a/3"}, now)
	if err != nil || added != 1 {
		t.Fatalf("links: added %d, %v", added, err)
	}
	for _, bad := range []*crawluri.CrawlUri{
		{URL: one.URL, LeaseID: one.LeaseID, StatusCode: 200}, // duplicate
		{URL: one.URL, LeaseID: 12345, StatusCode: 200},       // forged
		{URL: one.URL, LeaseID: two.LeaseID, StatusCode: 200}, // another URL's lease
	} {
		if _, err := f.Done(bad, nil, now); !errors.Is(err, ErrStaleLease) {
			t.Fatalf("stale result %+v: %v", bad, err)
		}
	}
	if err := f.Release(two.LeaseID, now); err != nil {
		t.Fatal(err)
	}
	if err := f.Release(two.LeaseID, now); !errors.Is(err, ErrStaleLease) {
		t.Fatalf("double release: %v", err)
	}
	b, _ = f.Next(now, 10)
	if len(b) != 2 {
		t.Fatalf("released URL not handed out again: %v", b)
	}
	f.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 404}, nil, now)
	// The other lease expires.
	if urls, _ := f.Expire(now.Add(30 * time.Second)); len(urls) != 0 {
		t.Fatal("expired early")
	}
	if urls, _ := f.Expire(now.Add(2 * time.Minute)); len(urls) != 1 || urls[0].URL != b[1].URL || urls[0].Lease != b[1].LeaseID {
		t.Fatalf("expired %v", urls)
	}
	if _, err := f.Done(&crawluri.CrawlUri{URL: b[1].URL, LeaseID: b[1].LeaseID, StatusCode: 200}, nil, now); !errors.Is(err, ErrStaleLease) {
		t.Fatal("a late result of an expired lease was applied")
	}
	st := f.Stats()
	if st.Done != 1 || st.Failed != 1 || st.Queued != 1 || st.InFlight != 0 || st.Seen != 3 {
		t.Fatalf("final stats %+v", st)
	}
}

// TestRestartKeepsEverything closes and reopens the store: queued URLs,
// the seen set, counters and politeness survive; URLs that were leased
// come back queued; done URLs are never handed out again.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Open("multiple_host", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f.Add([]string{"http://a/1", "http://a/2", "http://b/1", "http://c/1"}, now)
	b, _ := f.Next(now, 10) // a/1, b/1, c/1 leased
	for _, c := range b {
		if c.URL == "http://a/1" {
			f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, []string{"http://d/1"}, now)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("multiple_host", Options{Dir: dir}); !errors.Is(err, ErrStateDirInUse) {
		t.Fatalf("second open of a state dir: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Offline, the URLs that were in flight show as such, with their leases.
	r, err := Inspect(dir, "", 10, urlx.FullCanonicalization())
	if err != nil {
		t.Fatal(err)
	}
	var leased []string
	for _, l := range r.Leases {
		leased = append(leased, l.URL)
	}
	sort.Strings(leased)
	if r.Stats.InFlight != 2 || r.Stats.Queued != 2 || fmt.Sprint(leased) != "[http://b/1 http://c/1]" {
		t.Fatalf("inspect: %+v, leases %v", r.Stats, leased)
	}
	if r, err := Inspect(dir, "http://b/1", 0, urlx.FullCanonicalization()); err != nil || !strings.HasPrefix(r.URL.State, "in flight") {
		t.Fatalf("inspect --url of a URL in flight: %+v, %v", r.URL, err)
	}

	g, err := Open("multiple_host", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	st := g.Stats()
	if st.Seen != 5 || st.Done != 1 || st.InFlight != 0 || st.Queued != 4 {
		t.Fatalf("after restart: %+v", st)
	}
	if n, _ := g.Add([]string{"http://a/1", "http://d/1"}, now); n != 0 {
		t.Fatal("the seen set was lost")
	}
	var got []string
	for round := 0; round < 5; round++ {
		b, _ := g.Next(time.Now().Add(time.Hour), 10)
		for _, c := range b {
			got = append(got, c.URL)
			g.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, time.Now())
		}
	}
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint([]string{"http://a/2", "http://b/1", "http://c/1", "http://d/1"}) {
		t.Fatalf("handed out after restart: %v (done URLs must not come back, leased ones must)", got)
	}
}

func BenchmarkAddNextDone(b *testing.B) {
	f := open(b, "multiple_host", Options{Dir: b.TempDir()})
	now := time.Now()
	urls := make([]string, 1)
	res := &crawluri.CrawlUri{StatusCode: 200}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		urls[0] = fmt.Sprintf("http://host%d.example/page/%d.html", i%100000, i)
		i++
		f.Add(urls, now)
		batch, _ := f.Next(now, 1)
		if len(batch) == 1 {
			res.URL, res.LeaseID = batch[0].URL, batch[0].LeaseID
			f.Done(res, nil, now)
		}
		if i%1000 == 0 {
			f.Commit()
		}
	}
}

func TestStatusPolicies(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{MaxRetries: 2, RetryBackoff: 10 * time.Second, MaxRetryAfter: time.Minute})
	next := func(at time.Time) *crawluri.CrawlUri {
		t.Helper()
		b, err := f.Next(at, 1)
		if err != nil || len(b) != 1 {
			t.Fatalf("Next at +%v: %v %v", at.Sub(now), b, err)
		}
		return b[0]
	}
	result := func(c *crawluri.CrawlUri, status int16, hdr map[string]string, at time.Time) {
		t.Helper()
		if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: status, RepHeader: hdr}, nil, at); err != nil {
			t.Fatal(err)
		}
	}
	// 5xx: retried after 10s, then 20s, then failed.
	f.Add([]string{"http://a/x"}, now)
	c := next(now)
	result(c, 500, nil, now)
	if b, _ := f.Next(now.Add(9*time.Second), 1); len(b) != 0 {
		t.Fatal("retried before the backoff")
	}
	c = next(now.Add(10 * time.Second))
	result(c, 599, nil, now.Add(10*time.Second))
	if b, _ := f.Next(now.Add(29*time.Second), 1); len(b) != 0 {
		t.Fatal("second retry before the doubled backoff")
	}
	c = next(now.Add(30 * time.Second))
	result(c, 502, nil, now.Add(30*time.Second))
	if st := f.Stats(); st.Failed != 1 || st.Retried != 2 || st.Queued != 0 {
		t.Fatalf("after the last retry: %+v", st)
	}
	// 429 with Retry-After holds the whole host.
	f.Add([]string{"http://b/1", "http://b/2"}, now)
	c = next(now)
	result(c, 429, map[string]string{"Retry-After": "45"}, now)
	if b, _ := f.Next(now.Add(44*time.Second), 5); len(b) != 0 {
		t.Fatalf("host b asked before its Retry-After: %v", b)
	}
	if b, _ := f.Next(now.Add(45*time.Second), 5); len(b) != 1 {
		t.Fatalf("host b not asked after its Retry-After: %v", b)
	}
	// An absurd Retry-After is capped.
	if d := parseRetryAfter("99999999", now, time.Minute); d != time.Minute {
		t.Fatalf("cap: %v", d)
	}
	if d := parseRetryAfter(now.Add(30*time.Second).UTC().Format(http.TimeFormat), now, time.Minute); d < 29*time.Second || d > 31*time.Second {
		t.Fatalf("HTTP date: %v", d)
	}
	// 404 fails at once; 301 is done.
	f.Add([]string{"http://c/404", "http://d/301"}, now)
	for _, u := range []*crawluri.CrawlUri{next(now), next(now)} {
		if u.URL == "http://c/404" {
			result(u, 404, nil, now)
		} else {
			result(u, 301, nil, now)
		}
	}
	if st := f.Stats(); st.Failed != 2 || st.Done != 1 {
		t.Fatalf("404/301: %+v", st)
	}
}

// TestRevisitLevels ports spyder's SimpleTimestampPrioritizer: a fetched
// page is due again after delta x level; each 304 raises the level (up to
// NumPriorities), a change resets it; validators are sent on revisit.
func TestRevisitLevels(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{CrawlDelta: time.Hour, NumPriorities: 3})
	f.Add([]string{"http://a/p"}, now)
	b, _ := f.Next(now, 1)
	f.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200,
		RepHeader: map[string]string{"Etag": `"v1"`, "Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT"}}, nil, now)
	if st := f.Stats(); st.Scheduled != 1 || st.Queued != 0 || !st.Idle() {
		t.Fatalf("a revisit is scheduled, not queued: %+v", st)
	}
	at := now
	for i, want := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 3 * time.Hour} {
		if b, _ := f.Next(at.Add(want-time.Second), 1); len(b) != 0 {
			t.Fatalf("visit %d before %v", i, want)
		}
		at = at.Add(want)
		b, _ := f.Next(at, 1)
		if len(b) != 1 || b[0].ReqHeader["Etag"] != `"v1"` || b[0].ReqHeader["Last-Modified"] == "" {
			t.Fatalf("revisit %d: %+v", i, b)
		}
		f.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 304}, nil, at)
	}
	b, _ = f.Next(at.Add(3*time.Hour), 1)
	f.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200}, nil, at.Add(3*time.Hour))
	if d := f.NextDue(now).Sub(at.Add(3 * time.Hour)); d != time.Hour {
		t.Fatalf("a changed page is back at level 1: next visit in %v", d)
	}
}

// TestNewURLsPreferred: as in spyder 0.2.x, a URL never fetched goes
// before known URLs that are due (revisits, retries), whatever their due
// times, and new URLs keep the order they were admitted in.
func TestNewURLsPreferred(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{CrawlDelta: time.Second, RetryBackoff: time.Second, MaxRetries: 3})
	f.Add([]string{"http://a/revisit", "http://a/retry"}, now)
	b, _ := f.Next(now, 10)
	for _, c := range b {
		status := 200
		if c.URL == "http://a/retry" {
			status = 503
		}
		f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: int16(status)}, nil, now)
	}
	later := now.Add(time.Minute) // both known URLs long due
	f.Add([]string{"http://a/new1", "http://a/new2"}, later)
	var got []string
	for range 4 {
		b, _ := f.Next(later, 1)
		if len(b) != 1 {
			t.Fatalf("got %v after %v", b, got)
		}
		got = append(got, b[0].URL)
	}
	if got[0] != "http://a/new1" || got[1] != "http://a/new2" {
		t.Fatalf("order %v: new URLs must come first, in order", got)
	}
}

// TestReturnedURLsGoFirst: a URL whose lease ended without a result
// (handed back, released, expired) is due at once, ahead of the new URLs
// of its queue, on either frontier and after a restart too; its host's
// politeness still holds it.
func TestReturnedURLsGoFirst(t *testing.T) {
	for _, class := range []string{"single_host", "multiple_host"} {
		for _, end := range []string{"release", "expire"} {
			t.Run(class+"/"+end, func(t *testing.T) {
				dir := t.TempDir()
				now := time.Now()
				f := open(t, class, Options{Dir: dir, LeaseTimeout: time.Minute})
				var urls []string
				for i := 0; i < 100; i++ {
					urls = append(urls, fmt.Sprintf("http://a/%d", i))
				}
				f.Add(urls, now)
				first, _ := f.Next(now, 1)
				if len(first) != 1 || first[0].URL != "http://a/0" {
					t.Fatalf("first: %v", first)
				}
				switch end {
				case "release":
					if err := f.Release(first[0].LeaseID, now); err != nil {
						t.Fatal(err)
					}
				case "expire":
					now = now.Add(2 * time.Minute)
					if got, _ := f.Expire(now); len(got) != 1 {
						t.Fatalf("expired %v", got)
					}
				}
				if err := f.Commit(); err != nil {
					t.Fatal(err)
				}
				for round := 0; round < 2; round++ {
					next, _ := f.Next(now, 1)
					if len(next) != 1 || next[0].URL != "http://a/0" {
						t.Fatalf("round %d: %v came before the returned URL", round, next)
					}
					if round == 0 {
						// Once more from the store: a restarted master.
						if err := f.Close(); err != nil {
							t.Fatal(err)
						}
						f = open(t, class, Options{Dir: dir, LeaseTimeout: time.Minute})
					}
				}
			})
		}
	}
}

// TestReleasedURLWaitsAWholeDelay: a lease that ends without a result
// (handed back, expired) may still have its URL fetched at that moment
// (a worker that lost contact, a heartbeat that came late), so its host
// waits a whole delay from the lease's end, not from its dispatch.
func TestReleasedURLWaitsAWholeDelay(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{LeaseTimeout: time.Minute, MinDelay: time.Second})
	f.Add([]string{"http://a/1"}, now)
	b, _ := f.Next(now, 10)
	if len(b) != 1 {
		t.Fatalf("dispatched %v", b)
	}
	released := now.Add(700 * time.Millisecond)
	if err := f.Release(b[0].LeaseID, released); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Next(now.Add(1200*time.Millisecond), 10); len(got) != 0 {
		t.Fatalf("dispatched %v 0.5 s after the release, with a 1 s delay", got)
	}
	if got, _ := f.Next(released.Add(time.Second), 10); len(got) != 1 {
		t.Fatalf("dispatched %v a whole delay after the release", got)
	}
}

// TestUnsentURLDoesNotWait: a URL the master leased but could not send
// (no worker connected yet, every pipe full) made no request: handed back
// unsent, it goes out again at once, under either frontier class (single_host
// starts its pause at the dispatch, which is undone).
func TestUnsentURLDoesNotWait(t *testing.T) {
	for _, class := range []string{"multiple_host", "single_host"} {
		t.Run(class, func(t *testing.T) {
			now := time.Now()
			f := open(t, class, Options{LeaseTimeout: time.Minute, MinDelay: time.Second})
			f.Add([]string{"http://a/1", "http://a/2"}, now)
			b, _ := f.Next(now, 10)
			if len(b) != 1 || b[0].URL != "http://a/1" {
				t.Fatalf("dispatched %v", b)
			}
			if err := f.ReturnUnsent(b[0].LeaseID, now.Add(10*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if err := f.ReturnUnsent(b[0].LeaseID, now.Add(10*time.Millisecond)); !errors.Is(err, ErrStaleLease) {
				t.Fatalf("returned twice: %v", err)
			}
			again, _ := f.Next(now.Add(20*time.Millisecond), 10)
			if len(again) != 1 || again[0].URL != "http://a/1" {
				t.Fatalf("dispatched %v 20 ms after the start, the unsent URL first", again)
			}
			// The request that is made starts the delay as usual.
			if class == "single_host" {
				if got, _ := f.Next(now.Add(500*time.Millisecond), 10); len(got) != 0 {
					t.Fatalf("dispatched %v within the delay of a sent URL", got)
				}
			}
		})
	}
}

// TestWARCCaptureKept: the WARC capture a result reports is kept with the
// URL, across a restart, and goes out with its next dispatch; a result
// without one (a fetch not archived, a 304) leaves it as it was.
func TestWARCCaptureKept(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	opts := Options{Dir: dir, CrawlDelta: time.Hour, NumPriorities: 3}
	f := open(t, "single_host", opts)
	f.Add([]string{"http://a/p"}, now)
	b, _ := f.Next(now, 1)
	if len(b) != 1 || b[0].WARCCapture != "" {
		t.Fatalf("first dispatch: %+v", b)
	}
	const capture = "sha1:AAAA <urn:uuid:1> 2026-12-05T10:00:00Z http://a/p"
	f.Done(&crawluri.CrawlUri{URL: b[0].URL, LeaseID: b[0].LeaseID, StatusCode: 200, WARCCapture: capture}, nil, now)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g := open(t, "single_host", opts)
	at := now
	for i, res := range []crawluri.CrawlUri{{StatusCode: 200}, {StatusCode: 304}, {StatusCode: 200, WARCCapture: capture + "2"}} {
		at = at.Add(3 * time.Hour)
		b, _ = g.Next(at, 1)
		if len(b) != 1 || b[0].WARCCapture != capture {
			t.Fatalf("dispatch %d: %+v, want capture %q", i, b, capture)
		}
		res.URL, res.LeaseID = b[0].URL, b[0].LeaseID
		g.Done(&res, nil, at)
	}
	rep, err := g.urlReport("http://a/p", urlx.Canonicalization{})
	if err != nil || rep.Capture != capture+"2" {
		t.Fatalf("inspect: %+v %v", rep, err)
	}
	rec, err := g.getRecord(urlx.KeyOf("http://a/p"))
	if err != nil {
		t.Fatal(err)
	}
	// A record of a later version, with a field this one does not know,
	// still decodes.
	enc := append(rec.encode(), 9, 2, 'x', 'y')
	back, err := decodeURLRecord(enc)
	if err != nil || back.capture != rec.capture || back.url != rec.url {
		t.Fatalf("record with an unknown field: %+v %v", back, err)
	}
	if _, err := decodeURLRecord(append(rec.encode(), tagCapture, 9, 'x')); err == nil {
		t.Fatal("a field longer than the record decodes")
	}
}
