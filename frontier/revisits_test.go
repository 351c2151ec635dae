package frontier

import (
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// TestAdvanceRevisits: a URL scheduled for a revisit that its site says
// changed after its last fetch is due at once; one that changed before,
// one never fetched, one unknown and one not to be revisited stay as they
// are. Two URLs scheduled at the same time and priority share their
// entries' key prefix: the right one moves. The move is durable.
func TestAdvanceRevisits(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	fetched := now.Add(-time.Minute)
	f := open(t, "single_host", Options{Dir: dir, CrawlDelta: time.Hour, NumPriorities: 3})
	f.Add([]string{"http://a.test/p", "http://a.test/q", "http://b.test/gone"}, fetched)
	for _, c := range next(t, f, fetched) {
		status := int16(200)
		if c.URL == "http://b.test/gone" {
			status = 404 // failed: not to be revisited
		}
		if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: status}, nil, fetched); err != nil {
			t.Fatal(err)
		}
	}
	f.Add([]string{"http://c.test/new"}, now)
	adv, ok := Revisits(f)
	if !ok {
		t.Fatal("the Pebble store advances no revisit")
	}
	for _, tc := range []struct {
		name    string
		changes []Change
		moved   int
	}{
		{"changed before the fetch", []Change{{"http://a.test/q", fetched.Add(-time.Second)}}, 0},
		{"never fetched, unknown, failed", []Change{{"http://c.test/new", now}, {"http://d.test/", now}, {"http://b.test/gone", now}}, 0},
		{"changed after the fetch", []Change{{"http://a.test/q", fetched.Add(time.Second)}}, 1},
		{"already due", []Change{{"http://a.test/q", now}}, 0},
	} {
		moved, err := adv.AdvanceRevisits(tc.changes, now)
		if err != nil || moved != tc.moved {
			t.Errorf("%s: moved %d (%v), want %d", tc.name, moved, err, tc.moved)
		}
	}
	if st := f.Stats(); st.Scheduled != 2 || st.Queued != 1 {
		t.Fatalf("stats after the move: %+v", st)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g := open(t, "single_host", Options{Dir: dir, CrawlDelta: time.Hour, NumPriorities: 3})
	if got := urls(next(t, g, now)); len(got) != 2 || got[0] != "http://a.test/q" || got[1] != "http://c.test/new" {
		t.Fatalf("due now after a restart: %v; want a.test/q (advanced) and c.test/new", got)
	}
	if due := g.NextDue(now); due.Sub(fetched) != time.Hour {
		t.Fatalf("a.test/p is due %v after its fetch, want 1h", due.Sub(fetched))
	}
}
