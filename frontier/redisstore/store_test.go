// store_test.go: the Redis store under the crawl policy, against a real
// redis-server (one, and a cluster): admission, dispatch, politeness on
// Redis's clock, results, robots.txt, leases, ownership and fencing.

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/redistest"
)

// testOpts are the policy's options of these tests.
func testOpts(t testing.TB) frontier.Options {
	return frontier.Options{
		MinDelay: 50 * time.Millisecond, MaxRetries: 2, RetryBackoff: 100 * time.Millisecond, MaxRetryAfter: time.Second,
		RobotsAgent: "spyder", RobotsTTL: time.Hour, LeaseTimeout: 30 * time.Second,
		Logger: zerolog.New(zerolog.NewTestWriter(t)),
	}
}

// testStore opens a store for master on addrs, closed when the test ends.
func testStore(t testing.TB, addrs []string, master string, opts frontier.Options, tune func(*Config)) (*Store, frontier.Frontier) {
	t.Helper()
	cfg := Config{Addrs: addrs, Crawl: "t", Partitions: 16, SeenBuckets: 4, Master: master, OwnershipTTL: 600 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	s, err := Open(opts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, committing{frontier.Over(s, opts)}
}

// committing commits after each result, as the master does at the end of
// its turn.
type committing struct{ frontier.Frontier }

func (c committing) Done(res *crawluri.CrawlUri, links []string, now time.Time) (int, error) {
	n, err := c.Frontier.Done(res, links, now)
	if err != nil {
		return n, err
	}
	return n, c.Commit()
}

// nextAll takes every URL due within wait.
func nextAll(t testing.TB, f frontier.Frontier, want int, wait time.Duration) []*crawluri.CrawlUri {
	t.Helper()
	var out []*crawluri.CrawlUri
	deadline := time.Now().Add(wait)
	for len(out) < want && time.Now().Before(deadline) {
		got, err := f.Next(time.Now(), want-len(out))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
		if len(got) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return out
}

func urls(cs []*crawluri.CrawlUri) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.URL)
	}
	sort.Strings(out)
	return out
}

func ok200(c *crawluri.CrawlUri) *crawluri.CrawlUri {
	return &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200, ReqTime: 0.001}
}

// TestCrawlOnOneRedis: URLs are admitted once, handed out one per host at
// a time, and the crawl ends with every URL done and the counts right.
func TestCrawlOnOneRedis(t *testing.T) {
	node := redistest.StartRedis(t)
	crawlOnce(t, []string{node.Addr})
}

// TestCrawlOnRedisCluster: the same on a 3-primary cluster, whose
// partitions live on different primaries.
func TestCrawlOnRedisCluster(t *testing.T) {
	c := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	crawlOnce(t, c.Addrs()[:1]) // one seed address is enough
}

func crawlOnce(t *testing.T, addrs []string) {
	opts := testOpts(t)
	s, f := testStore(t, addrs, "m1", opts, nil)
	if len(s.Owned()) != s.Partitions() {
		t.Fatalf("the only master owns %d of %d partitions", len(s.Owned()), s.Partitions())
	}
	var seeds []string
	for h := range 6 {
		seeds = append(seeds, fmt.Sprintf("http://h%d.test/", h))
	}
	now := time.Now()
	if n, err := f.AddSeeds(seeds, now); err != nil || n != 6 {
		t.Fatalf("AddSeeds = %d, %v; want 6 new", n, err)
	}
	if n, err := f.AddSeeds(seeds[:2], now); err != nil || n != 0 {
		t.Fatalf("AddSeeds again = %d, %v; want 0 new", n, err)
	}
	hosts, err := f.SeedHosts()
	if err != nil || len(hosts) != 6 {
		t.Fatalf("SeedHosts = %v, %v", hosts, err)
	}
	fetched := map[string]int{}
	links := func(u string) []string {
		if u[len(u)-1] != '/' {
			return nil
		}
		var out []string
		for i := range 3 {
			out = append(out, fmt.Sprintf("%sp%d", u, i), u) // the page itself again: not new
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got, err := f.Next(time.Now(), 100)
		if err != nil {
			t.Fatal(err)
		}
		perHost := map[string]int{}
		for _, c := range got {
			perHost[c.URL[:len("http://h0.test")]]++
		}
		for h, n := range perHost {
			if n > 1 {
				t.Fatalf("%d URLs of %s in one dispatch: one per host at a time", n, h)
			}
		}
		for _, c := range got {
			fetched[c.URL]++
			if _, err := f.Done(ok200(c), links(c.URL), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if st := fresh(s); st.Idle() && len(fetched) > 0 {
			break
		}
		if len(got) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(fetched) != 6*4 {
		t.Fatalf("fetched %d distinct URLs, want 24: %v", len(fetched), fetched)
	}
	for u, n := range fetched {
		if n != 1 {
			t.Errorf("%s fetched %d times", u, n)
		}
	}
	st := fresh(s)
	if st.Seen != 24 || st.Done != 24 || st.Queued != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v, want 24 seen and done, nothing queued or in flight", st)
	}
}

// TestPolitenessOnRedisClock: two stores (two masters) dispatching one
// host as fast as they can: no two dispatches closer than its delay.
func TestPolitenessOnRedisClock(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.MinDelay = 100 * time.Millisecond
	_, a := testStore(t, []string{node.Addr}, "a", opts, func(c *Config) { c.Partitions = 1 })
	var us []string
	for i := range 8 {
		us = append(us, fmt.Sprintf("http://slow.test/%d", i))
	}
	if _, err := a.AddSeeds(us, time.Now()); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for len(at) < 8 {
		got := nextAll(t, a, 1, 5*time.Second)
		if len(got) != 1 {
			t.Fatalf("after %d dispatches, nothing within 5 s", len(at))
		}
		at = append(at, time.Now())
		if _, err := a.Done(&crawluri.CrawlUri{URL: got[0].URL, LeaseID: got[0].LeaseID, StatusCode: 200}, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 95*time.Millisecond {
			t.Errorf("dispatch %d came %v after the one before; the host's delay is 100ms", i, gap)
		}
	}
}

// TestLeasesAreGuarded: a result is applied once, for its own URL; a
// released URL goes first again; an expired one is queued again.
func TestLeasesAreGuarded(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.LeaseTimeout = 300 * time.Millisecond
	s, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://a.test/1", "http://a.test/2"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := nextAll(t, f, 1, time.Second)
	if len(got) != 1 {
		t.Fatalf("got %v", urls(got))
	}
	first := got[0]
	if _, err := f.Done(&crawluri.CrawlUri{URL: "http://a.test/other", LeaseID: first.LeaseID, StatusCode: 200}, nil, time.Now()); !errors.Is(err, frontier.ErrStaleLease) {
		t.Fatalf("a result for another URL under the lease: %v, want ErrStaleLease", err)
	}
	if _, err := f.Done(&crawluri.CrawlUri{URL: first.URL, LeaseID: first.LeaseID + 16*1000, StatusCode: 200}, nil, time.Now()); !errors.Is(err, frontier.ErrStaleLease) {
		t.Fatalf("a forged lease: %v, want ErrStaleLease", err)
	}
	if err := f.Release(first.LeaseID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.Release(first.LeaseID, time.Now()); !errors.Is(err, frontier.ErrStaleLease) {
		t.Fatalf("released twice: %v", err)
	}
	again := nextAll(t, f, 1, time.Second)
	if len(again) != 1 || again[0].URL != first.URL {
		t.Fatalf("after a release got %v, want %s first again", urls(again), first.URL)
	}
	time.Sleep(400 * time.Millisecond)
	exp, err := f.Expire(time.Now())
	if err != nil || len(exp) != 1 || exp[0].URL != first.URL || exp[0].Lease != again[0].LeaseID {
		t.Fatalf("Expire = %+v, %v; want lease %d of %s", exp, err, again[0].LeaseID, first.URL)
	}
	if _, err := f.Done(ok200(again[0]), nil, time.Now()); !errors.Is(err, frontier.ErrStaleLease) {
		t.Fatalf("the result of an expired lease: %v, want ErrStaleLease", err)
	}
	if st := fresh(s); st.Queued != 2 || st.InFlight != 0 {
		t.Fatalf("stats %+v, want both queued", st)
	}

	// Within one turn (before Commit) a second result of a lease is stale
	// too; a turn whose output failed is discarded and its URLs go back.
	raw := frontier.Over(s, opts)
	c := nextAll(t, raw, 1, time.Second)[0]
	if _, err := raw.Done(ok200(c), nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Done(ok200(c), nil, time.Now()); !errors.Is(err, frontier.ErrStaleLease) {
		t.Fatalf("a second result in one turn: %v, want ErrStaleLease", err)
	}
	raw.Discard(errors.New("output failed"))
	if err := raw.Commit(); err != nil {
		t.Fatal(err)
	}
	if st := fresh(s); st.Done != 0 || st.Queued != 2 || st.InFlight != 0 {
		t.Fatalf("after a discarded turn: %+v, want nothing done, both queued", st)
	}
}

// TestRetryAndRevisit: a 503 is tried again after the back-off; a page is
// revisited with its validators.
func TestRetryAndRevisit(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.CrawlDelta, opts.NumPriorities = 300*time.Millisecond, 3
	s, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://r.test/"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := nextAll(t, f, 1, time.Second)[0]
	if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 503}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if st := fresh(s); st.Retried != 1 || st.Queued != 1 {
		t.Fatalf("after a 503: %+v", st)
	}
	start := time.Now()
	c = nextAll(t, f, 1, 2*time.Second)[0]
	if waited := time.Since(start); waited < 80*time.Millisecond {
		t.Fatalf("retried after %v; the back-off is 100ms", waited)
	}
	const capture = "sha1:AAAA <urn:uuid:1> 2026-12-05T10:00:00Z http://r.test/"
	res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200, RepHeader: map[string]string{"Etag": `"v1"`}, WARCCapture: capture}
	if _, err := f.Done(res, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if st := fresh(s); st.Scheduled != 1 || st.Done != 1 {
		t.Fatalf("after a 200 with revisits on: %+v", st)
	}
	c = nextAll(t, f, 1, 2*time.Second)[0]
	if c.ReqHeader["Etag"] != `"v1"` || c.CurrentPriority != 1 || c.WARCCapture != capture {
		t.Fatalf("the revisit carries %v and capture %q at level %d; want the Etag and the capture at level 1", c.ReqHeader, c.WARCCapture, c.CurrentPriority)
	}
	// A 304 brings no validators and no capture: the record keeps the
	// last ones, and its history every step so far.
	if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 304}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(Config{Addrs: []string{node.Addr}, Crawl: "t"}, "http://r.test/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, h := range rep.URL.History {
		events = append(events, h.Event)
	}
	want := "added as seed, dispatched, result: queued, dispatched, result: scheduled for a revisit, dispatched, result: scheduled for a revisit"
	if got := strings.Join(events, ", "); got != want || rep.URL.ETag != `"v1"` || rep.URL.Status != 304 || rep.URL.Capture != capture {
		t.Fatalf("the record after a retry and two revisits: etag %s, capture %q, status %d, history\n %s\nwant\n %s", rep.URL.ETag, rep.URL.Capture, rep.URL.Status, got, want)
	}

	// A record written before the capture was kept (no such field) is
	// read, dispatched and completed: the capture comes in, the history
	// stays.
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr})
	defer rdb.Close()
	ctx := context.Background()
	var bucket, field, record string
	iter := rdb.Scan(ctx, 0, "*", 0).Iterator()
	for iter.Next(ctx) && record == "" {
		if rdb.Type(ctx, iter.Val()).Val() != "hash" {
			continue
		}
		for k, v := range rdb.HGetAll(ctx, iter.Val()).Val() {
			if strings.Contains(v, "\x00http://r.test/\x00") {
				bucket, field, record = iter.Val(), k, v
			}
		}
	}
	old := strings.Replace(record, "\x00"+capture+"\x00", "\x00", 1)
	if record == "" || old == record {
		t.Fatalf("the URL's record %q in %s", record, bucket)
	}
	rdb.HSet(ctx, bucket, field, old)
	c = nextAll(t, f, 1, 5*time.Second)[0]
	if c.WARCCapture != "" || c.ReqHeader["Etag"] != `"v1"` {
		t.Fatalf("an old record dispatched with capture %q, headers %v", c.WARCCapture, c.ReqHeader)
	}
	if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200, WARCCapture: capture + "2"}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if rep, err = Inspect(Config{Addrs: []string{node.Addr}, Crawl: "t"}, "http://r.test/", 0); err != nil {
		t.Fatal(err)
	}
	if rep.URL.Capture != capture+"2" || len(rep.URL.History) != len(events)+2 {
		t.Fatalf("an old record after a result: capture %q, %d events (had %d)", rep.URL.Capture, len(rep.URL.History), len(events))
	}
}

// TestRobotsInRedis: the origin's robots.txt goes first; its rules keep
// a disallowed URL from being fetched (910, through Decided); its
// Crawl-delay spaces the host.
func TestRobotsInRedis(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.ObeyRobots, opts.MaxCrawlDelay = true, time.Second
	s, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://rb.test/x/1", "http://rb.test/ok"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := nextAll(t, f, 1, time.Second)
	if len(got) != 1 || got[0].URL != "http://rb.test/robots.txt" {
		t.Fatalf("first dispatch %v, want the robots.txt", urls(got))
	}
	if more, _ := f.Next(time.Now(), 10); len(more) != 0 {
		t.Fatalf("dispatched %v while the robots.txt is in flight", urls(more))
	}
	body := "User-agent: *\nDisallow: /x/\nCrawl-delay: 0.3\n"
	if _, err := f.Done(&crawluri.CrawlUri{URL: got[0].URL, LeaseID: got[0].LeaseID, StatusCode: 200, ContentBody: []byte(body)}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got = nextAll(t, f, 1, 2*time.Second)
	if len(got) != 1 || got[0].URL != "http://rb.test/ok" {
		t.Fatalf("after the rules, dispatched %v; want only /ok", urls(got))
	}
	decided := f.Decided()
	if len(decided) != 1 || decided[0].URL != "http://rb.test/x/1" || decided[0].StatusCode != crawluri.StatusRobotsDisallowed {
		t.Fatalf("decided %+v, want /x/1 with 910", decided)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("the next request came %v after robots.txt; its Crawl-delay is 0.3 s", waited)
	}
	if st := fresh(s); st.Disallowed != 1 {
		t.Fatalf("stats %+v, want 1 disallowed", st)
	}
}

// TestHostControls: an operator's block holds a host; its delay replaces
// the default.
func TestHostControls(t *testing.T) {
	node := redistest.StartRedis(t)
	_, f := testStore(t, []string{node.Addr}, "m1", testOpts(t), nil)
	if _, err := f.AddSeeds([]string{"http://b.test/1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := f.BlockHost("b.test", now.Add(400*time.Millisecond), now); err != nil {
		t.Fatal(err)
	}
	if n := f.BlockedQueues(time.Now()); n != 1 {
		t.Fatalf("BlockedQueues = %d, want 1", n)
	}
	got := nextAll(t, f, 1, 2*time.Second)
	if waited := time.Since(now); len(got) != 1 || waited < 350*time.Millisecond {
		t.Fatalf("dispatched %v after %v; the host was blocked for 400ms", urls(got), waited)
	}
}

// TestReleasedURLWaitsAWholeDelay: a URL handed back may still be being
// fetched; its host waits a whole delay from the hand-back.
func TestReleasedURLWaitsAWholeDelay(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.MinDelay = 400 * time.Millisecond
	_, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://w.test/1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := nextAll(t, f, 1, time.Second)[0]
	time.Sleep(300 * time.Millisecond)
	released := time.Now()
	if err := f.Release(c.LeaseID, released); err != nil {
		t.Fatal(err)
	}
	again := nextAll(t, f, 1, 2*time.Second)
	if waited := time.Since(released); len(again) != 1 || waited < 380*time.Millisecond {
		t.Fatalf("dispatched %v %v after the release; the delay is 400 ms", urls(again), waited)
	}
}

// TestUnsentURLDoesNotWait: a URL leased but never sent made no request;
// handed back unsent, its host's clock is as the dispatch found it, and
// the URL goes out again at once.
func TestUnsentURLDoesNotWait(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.MinDelay = time.Second
	_, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://w.test/1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := nextAll(t, f, 1, time.Second)[0]
	returned := time.Now()
	if err := f.ReturnUnsent(c.LeaseID, returned); err != nil {
		t.Fatal(err)
	}
	if err := f.ReturnUnsent(c.LeaseID, returned); !errors.Is(err, frontier.ErrStaleLease) {
		t.Fatalf("returned twice: %v", err)
	}
	again := nextAll(t, f, 1, 2*time.Second)
	if waited := time.Since(returned); len(again) != 1 || again[0].URL != c.URL || waited > 500*time.Millisecond {
		t.Fatalf("dispatched %v %v after the return; it was never sent (the delay is 1 s)", urls(again), waited)
	}
}

// TestMastersSharePartitions: two masters split the partitions between
// them, disjointly; when one stops the other takes them all; when one
// dies (no hand-back) the other takes its share once its ownership lapses
// and queues again what it had in flight.
func TestMastersSharePartitions(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	a, fa := testStore(t, []string{node.Addr}, "a", opts, nil)
	b, _ := testStore(t, []string{node.Addr}, "b", opts, nil)
	waitFor(t, 5*time.Second, "both masters own a share", func() bool {
		oa, ob := a.Owned(), b.Owned()
		return len(oa) > 0 && len(ob) > 0 && len(oa)+len(ob) == 16 && !overlap(oa, ob)
	})
	// a leases a URL of each of its partitions, then dies without a word.
	var us []string
	for h := range 40 {
		us = append(us, fmt.Sprintf("http://d%d.test/", h))
	}
	if _, err := fa.AddSeeds(us, time.Now()); err != nil {
		t.Fatal(err)
	}
	leased := nextAll(t, fa, 40, 500*time.Millisecond)
	if len(leased) == 0 || len(leased) == 40 {
		t.Fatalf("a leased %d of 40 hosts' URLs; want its share", len(leased))
	}
	a.own.halt() // dies: no renewals, no hand-back
	waitFor(t, 5*time.Second, "b owns every partition", func() bool { return len(b.Owned()) == 16 })
	fb := committing{frontier.Over(b, opts)}
	var expired []frontier.Expired
	waitFor(t, 3*time.Second, "b queues again what a had in flight", func() bool {
		e, err := fb.Expire(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		expired = append(expired, e...)
		return len(expired) == len(leased)
	})
	all := nextAll(t, fb, 40, 2*time.Second)
	if len(all) != 40 {
		t.Fatalf("b dispatched %d of 40 hosts' URLs", len(all))
	}
}

// TestFencing: a master whose partition was taken over (a new epoch) has
// its dispatches refused inside Redis, and stops dispatching there.
func TestFencing(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	a, fa := testStore(t, []string{node.Addr}, "a", opts, func(c *Config) { c.Partitions = 1; c.OwnershipTTL = time.Hour })
	if _, err := fa.AddSeeds([]string{"http://f.test/1", "http://g.test/1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Another master takes the partition as if a's ownership had lapsed.
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Del(ctx, "t:{p0}:owner").Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := rdb.FCall(ctx, "sp_claim", []string{"t:{p0}:"}, "intruder", 60000).Int64Slice(); err != nil || r[1] != 1 {
		t.Fatalf("claim: %v %v", r, err)
	}
	got, err := fa.Next(time.Now(), 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("a fenced master dispatched %v (%v)", urls(got), err)
	}
	if len(a.Owned()) != 0 {
		t.Fatalf("a still thinks it owns %v", a.Owned())
	}
	if st := fresh(a); st.Queued != 2 || st.InFlight != 0 {
		t.Fatalf("stats %+v: nothing may have been leased", st)
	}
}

// TestReopenKeepsTheCrawl: a master that stops and comes back finds the
// crawl as it was.
func TestReopenKeepsTheCrawl(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	s, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://k.test/1", "http://k.test/2", "http://l.test/1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := nextAll(t, f, 1, time.Second)[0]
	if _, err := f.Done(ok200(c), []string{"http://l.test/2"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, f2 := testStore(t, []string{node.Addr}, "m2", opts, nil)
	if st := fresh(s2); st.Seen != 4 || st.Done != 1 || st.Queued != 3 {
		t.Fatalf("reopened: %+v, want 4 seen, 1 done, 3 queued", st)
	}
	if n, err := f2.Add([]string{c.URL}, time.Now()); err != nil || n != 0 {
		t.Fatalf("a done URL admitted again: %d, %v", n, err)
	}
	got := nextAll(t, f2, 3, 2*time.Second)
	if len(got) != 2 || slices.Contains(urls(got), c.URL) {
		t.Fatalf("reopened, dispatched %v", urls(got))
	}
}

// fresh returns f's counts read afresh (the store caches them a second).
func fresh(s *Store) frontier.Stats {
	s.statsMu.Lock()
	s.stats.at = time.Time{}
	s.statsMu.Unlock()
	return s.Stats()
}

func overlap(a, b []int) bool {
	for _, p := range a {
		if slices.Contains(b, p) {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInspect: the read-only report of a Redis crawl while its master
// runs: counts, seed hosts, queues, the lease in flight, a URL's record
// and history.
func TestInspect(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	_, f := testStore(t, []string{node.Addr}, "m1", opts, nil)
	if _, err := f.AddSeeds([]string{"http://i.test/1", "http://i.test/2", "https://j.test:8443/x"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := nextAll(t, f, 2, time.Second)
	var done, leased *crawluri.CrawlUri
	for _, c := range got {
		if c.URL == "http://i.test/1" {
			done = c
		} else {
			leased = c
		}
	}
	if done == nil || leased == nil {
		t.Fatalf("dispatched %v", urls(got))
	}
	res := &crawluri.CrawlUri{URL: done.URL, LeaseID: done.LeaseID, StatusCode: 200, RepHeader: map[string]string{"Etag": `"e1"`}}
	if _, err := f.Done(res, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(Config{Addrs: []string{node.Addr}, Crawl: "t"}, "http://i.test/1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stats.Seen != 3 || rep.Stats.Done != 1 || rep.Stats.InFlight != 1 || rep.Stats.Queued != 1 {
		t.Errorf("stats %+v, want 3 seen, 1 done, 1 in flight, 1 queued", rep.Stats)
	}
	if strings.Join(rep.SeedHosts, " ") != "i.test j.test" {
		t.Errorf("seed hosts %v", rep.SeedHosts)
	}
	if len(rep.Leases) != 1 || rep.Leases[0].URL != leased.URL || rep.Leases[0].ID != leased.LeaseID {
		t.Errorf("leases %+v, want %s under %d", rep.Leases, leased.URL, leased.LeaseID)
	}
	queued := map[string]int64{}
	for _, q := range rep.Queues {
		queued[q.Name] = q.Queued
	}
	if queued["i.test"] != 1 {
		t.Errorf("queues %+v, want i.test with 1 URL", rep.Queues)
	}
	u := rep.URL
	if u == nil || !u.Known || u.State != "done" || u.Status != 200 || u.ETag != `"e1"` || len(u.History) != 3 ||
		u.History[0].Event != "added as seed" || u.History[1].Event != "dispatched" || u.History[2].Event != "result: done" {
		t.Fatalf("url report %+v", u)
	}
	if _, err := Inspect(Config{Addrs: []string{node.Addr}, Crawl: "nope"}, "", 10); err == nil || !strings.Contains(err.Error(), `no crawl "nope"`) {
		t.Fatalf("inspecting a crawl that does not exist: %v", err)
	}
}

// TestCookiesKept: cookies saved are written with the next Commit (not
// before), read by any master of the crawl, and deleted by an empty value.
func TestCookiesKept(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	a, _ := testStore(t, []string{node.Addr}, "a", opts, nil)
	b, _ := testStore(t, []string{node.Addr}, "b", opts, nil)
	read := func(s *Store) map[string]string {
		got := map[string]string{}
		if err := s.Cookies(func(k, v string) error { got[k] = v; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for k, v := range map[string]string{"h\x00sid\x00\x00/": "http://h/\tsid=1", "h\x00old\x00\x00/": "http://h/\told=2"} {
		if err := a.SaveCookie(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(b); len(got) != 0 {
		t.Fatalf("cookies visible before the commit: %q", got)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	a.SaveCookie("h\x00old\x00\x00/", "")
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := read(b); len(got) != 1 || got["h\x00sid\x00\x00/"] != "http://h/\tsid=1" {
		t.Fatalf("the other master reads %q", got)
	}
}

// TestDiscoveryKept: with KeepDiscovery, each URL keeps the page it was
// found on and its hop path in its queue entry, through a revisit; the
// frontier notes them on the URL's result (for the crawl log).
func TestDiscoveryKept(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.KeepDiscovery, opts.MinDelay, opts.CrawlDelta, opts.NumPriorities = true, 0, 200*time.Millisecond, 2
	_, f := testStore(t, []string{node.Addr}, "m", opts, nil)
	if _, err := f.AddSeeds([]string{"http://d.test/"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	type found struct{ via, hops string }
	got := map[string]found{}
	links := map[string][]string{"http://d.test/": {"http://d.test/a"}, "http://d.test/a": {"http://e.test/b"}}
	for round := 0; round < 100 && got["http://d.test/a"] == (found{}); round++ {
		for _, c := range nextAll(t, f, 1, 100*time.Millisecond) {
			res := ok200(c)
			if _, err := f.Done(res, links[c.URL], time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, seen := got[c.URL+" first"]; seen || c.URL == "http://e.test/b" {
				got[c.URL] = found{res.Var(crawluri.VarVia), res.Var(crawluri.VarHopPath)}
			} else {
				got[c.URL+" first"] = found{res.Var(crawluri.VarVia), res.Var(crawluri.VarHopPath)}
			}
		}
	}
	for u, want := range map[string]found{
		"http://d.test/ first": {}, "http://d.test/a first": {"http://d.test/", "L"},
		"http://e.test/b": {"http://d.test/a", "LL"}, "http://d.test/a": {"http://d.test/", "L"},
	} {
		if got[u] != want {
			t.Errorf("%s: %+v, want %+v (all: %v)", u, got[u], want, got)
		}
	}
}
