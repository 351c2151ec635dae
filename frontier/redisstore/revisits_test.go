package redisstore

import (
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/redistest"
)

// TestAdvanceRevisits: as the Pebble store's test of the same name, on
// Redis: a URL scheduled for a revisit that its site says changed after
// its last fetch is due at once; one that changed before, one never
// fetched, one unknown and one not to be revisited stay as they are.
func TestAdvanceRevisits(t *testing.T) {
	node := redistest.StartRedis(t)
	opts := testOpts(t)
	opts.MinDelay, opts.CrawlDelta, opts.NumPriorities = 0, time.Hour, 3
	_, f := testStore(t, []string{node.Addr}, "m", opts, nil)
	if _, err := f.AddSeeds([]string{"http://a.test/p", "http://a.test/q", "http://b.test/gone"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var fetched time.Time
	for n, round := 0, 0; n < 3; round++ {
		if round == 20 {
			t.Fatalf("%d of 3 URLs fetched", n)
		}
		for _, c := range nextAll(t, f, 1, time.Second) {
			res := ok200(c)
			if c.URL == "http://b.test/gone" {
				res.StatusCode = 404 // failed: not to be revisited
			}
			fetched = time.Now()
			if _, err := f.Done(res, nil, fetched); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if _, err := f.Add([]string{"http://c.test/new"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	adv, ok := frontier.Revisits(f.(committing).Frontier)
	if !ok {
		t.Fatal("the Redis store advances no revisit")
	}
	now := time.Now()
	for _, tc := range []struct {
		name    string
		changes []frontier.Change
		moved   int
	}{
		{"changed before the fetch", []frontier.Change{{URL: "http://a.test/q", At: fetched.Add(-10 * time.Second)}}, 0},
		{"never fetched, unknown, failed", []frontier.Change{{URL: "http://c.test/new", At: now}, {URL: "http://d.test/", At: now}, {URL: "http://b.test/gone", At: now}}, 0},
		{"changed after the fetch", []frontier.Change{{URL: "http://a.test/q", At: fetched.Add(10 * time.Second)}}, 1},
		{"already due", []frontier.Change{{URL: "http://a.test/q", At: fetched.Add(20 * time.Second)}}, 0},
	} {
		moved, err := adv.AdvanceRevisits(tc.changes, now)
		if err != nil || moved != tc.moved {
			t.Errorf("%s: moved %d (%v), want %d", tc.name, moved, err, tc.moved)
		}
	}
	got := urls(nextAll(t, f, 3, time.Second))
	if len(got) != 2 || got[0] != "http://a.test/q" || got[1] != "http://c.test/new" {
		t.Fatalf("due now: %v; want a.test/q (advanced) and c.test/new", got)
	}
}
