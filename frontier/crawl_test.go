// crawl_test.go: the crawl policy over a store of a few lines.

package frontier

import (
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// recordingStore is a second Store, as small as a test allows: it knows
// one lease and records what the policy asks of it. (The Store methods it
// does not define are nil and would panic: the policy must not need them.)
type recordingStore struct {
	Store
	leased   Leased
	settled  []Outcome
	robots   []RobotsFetched
	admitted map[int][]string // by depth
}

func (s *recordingStore) Lease(id int64, url string) (Leased, error) { return s.leased, nil }
func (s *recordingStore) Settle(id int64, o Outcome, res *crawluri.CrawlUri, now time.Time) error {
	s.settled = append(s.settled, o)
	return nil
}
func (s *recordingStore) SettleRobots(id int64, f RobotsFetched, now time.Time) error {
	s.robots = append(s.robots, f)
	return nil
}
func (s *recordingStore) Admit(urls []string, d Discovery, now time.Time) (int, error) {
	s.admitted[d.Depth] = append(s.admitted[d.Depth], urls...)
	return len(urls), nil
}

// TestPolicyOverAnyStore: the Frontier that Open returns decides with the
// policy and hands the store only outcomes, so that a second store gets
// the same crawl without a line of policy of its own.
func TestPolicyOverAnyStore(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	opts := Options{MaxRetries: 3, RetryBackoff: 30 * time.Second, MaxRetryAfter: time.Hour, RobotsAgent: "spyder", RobotsTTL: time.Hour}
	s := &recordingStore{admitted: map[int][]string{}}
	f := &crawl{Store: s, opts: opts}

	s.leased = Leased{URL: "http://a/p", Depth: 2, Prior: Prior{Attempts: 1}, MinDelay: time.Second}
	res := &crawluri.CrawlUri{URL: "http://a/p", LeaseID: 7, StatusCode: 503, RepHeader: map[string]string{"Retry-After": "120"}}
	if _, err := f.Done(res, []string{"http://a/q"}, now); err != nil {
		t.Fatal(err)
	}
	want := Decide(opts, s.leased.Prior, 503, res.RepHeader, 0, time.Second, 0, now)
	if len(s.settled) != 1 || s.settled[0] != want || want.Fate != FateRetry || want.HostHeldUntil.IsZero() {
		t.Fatalf("settled %+v, want the policy's %+v", s.settled, want)
	}
	if got := s.admitted[3]; len(got) != 1 || got[0] != "http://a/q" {
		t.Fatalf("links admitted %v, want http://a/q one hop deeper (3)", s.admitted)
	}

	s.leased = Leased{URL: "http://a/robots.txt", Robots: true, MinDelay: time.Second}
	res = &crawluri.CrawlUri{URL: "http://a/robots.txt", LeaseID: 8, StatusCode: 200, ContentBody: []byte("User-agent: *\nDisallow: /x\n")}
	if _, err := f.Done(res, nil, now); err != nil {
		t.Fatal(err)
	}
	if len(s.robots) != 1 || s.robots[0].Rules.Rules == nil || s.robots[0].Rules.Rules.Allowed("/x") || !s.robots[0].Rules.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("robots settled %+v", s.robots)
	}
	if n, _ := f.Add([]string{"http://b/"}, now); n != 1 || len(s.admitted[1]) != 1 {
		t.Fatalf("Add admits at depth 1: %v", s.admitted)
	}
}
