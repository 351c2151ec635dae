// policy_robots_test.go: the robots.txt policy as tables.

package frontier

import (
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/robots"
)

// TestCheckRobots is the dispatch-time robots.txt verdict as a table.
func TestCheckRobots(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	rules := robots.Parse([]byte("User-agent: *\nDisallow: /private\n")).For("spyder")
	for _, tc := range []struct {
		name   string
		r      RobotsRules
		path   string
		want   RobotsVerdict
		status int16
	}{
		{"no rules yet: fetch robots.txt first", RobotsRules{}, "/a", RobotsFetchFirst, 0},
		{"rules expired: fetch again first", RobotsRules{Rules: rules, Expires: now}, "/a", RobotsFetchFirst, 0},
		{"a failed fetch waits for its retry", RobotsRules{RetryAt: now.Add(time.Minute), Attempts: 1}, "/a", RobotsWait, 0},
		{"a retry that is due fetches", RobotsRules{RetryAt: now, Attempts: 1}, "/a", RobotsFetchFirst, 0},
		{"allowed", RobotsRules{Rules: rules, Expires: now.Add(time.Hour)}, "/a?q=1", RobotsAllow, 0},
		{"disallowed: 910", RobotsRules{Rules: rules, Expires: now.Add(time.Hour)}, "/private/x", RobotsDisallow, crawluri.StatusRobotsDisallowed},
		{"unreachable robots.txt: 911", RobotsRules{Rules: robots.DisallowAll().For("spyder"), Expires: now.Add(time.Hour), Unreachable: true}, "/a", RobotsDisallow, crawluri.StatusRobotsUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, status := CheckRobots(tc.r, tc.path, now)
			if v != tc.want || status != tc.status {
				t.Fatalf("CheckRobots = %v, %d; want %v, %d", v, status, tc.want, tc.status)
			}
		})
	}
}

// TestDecideRobots is what a robots.txt fetch's result does, as a table.
func TestDecideRobots(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	opts := Options{RobotsAgent: "spyder", RobotsTTL: 24 * time.Hour, MaxRetries: 2, RetryBackoff: 30 * time.Second,
		MaxCrawlDelay: 10 * time.Second, CrawlDelayFactor: 4}
	at := func(d time.Duration) time.Time { return now.Add(d) }
	cached := robots.Parse([]byte("User-agent: *\nDisallow: /old\n")).For("spyder")
	for _, tc := range []struct {
		name       string
		prior      RobotsRules
		status     int
		body       string
		reqSeconds float64
		minDelay   time.Duration
		// expectations
		allowed, disallowed string // a path the new rules allow, and one they do not ("" skips)
		expires, retryAt    time.Time
		attempts            int
		unreachable         bool
		retrying, gaveUp    bool
		waits               time.Time
	}{
		{name: "200: its rules for the TTL, Crawl-delay capped", status: 200, body: "User-agent: spyder\nDisallow: /x\nCrawl-delay: 60\n", minDelay: time.Second,
			allowed: "/y", disallowed: "/x", expires: at(24 * time.Hour), waits: at(10 * time.Second)},
		{name: "politeness after a slow fetch", status: 200, body: "", reqSeconds: 2, minDelay: time.Second,
			allowed: "/y", expires: at(24 * time.Hour), waits: at(8 * time.Second)},
		{name: "404: no rules", status: 404, minDelay: time.Second, allowed: "/x", expires: at(24 * time.Hour), waits: at(time.Second)},
		{name: "301 not followed: no rules", status: 301, allowed: "/x", expires: at(24 * time.Hour), waits: now},
		{name: "503: held for the back-off, tried again", status: 503, prior: RobotsRules{Attempts: 1},
			retryAt: at(60 * time.Second), attempts: 2, retrying: true, waits: at(60 * time.Second)},
		{name: "429 is not 4xx: retried", status: 429,
			retryAt: at(30 * time.Second), attempts: 1, retrying: true, waits: at(30 * time.Second)},
		{name: "past the retries with cached rules: they stand an hour", status: 599, prior: RobotsRules{Rules: cached, Expires: now, Attempts: 2},
			allowed: "/new", disallowed: "/old", expires: at(time.Hour), gaveUp: true, waits: now},
		{name: "past the retries without rules: all disallowed an hour (911)", status: 599, prior: RobotsRules{Attempts: 2},
			disallowed: "/", expires: at(time.Hour), unreachable: true, gaveUp: true, waits: now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := DecideRobots(opts, tc.prior, tc.status, []byte(tc.body), tc.reqSeconds, tc.minDelay, now)
			r := f.Rules
			if !r.Expires.Equal(tc.expires) || !r.RetryAt.Equal(tc.retryAt) || r.Attempts != tc.attempts || r.Unreachable != tc.unreachable ||
				f.Retrying != tc.retrying || f.GaveUp != tc.gaveUp || !f.HostWaitsUntil.Equal(tc.waits) {
				t.Fatalf("got %+v (expires %v, retry %v, waits %v)", f, r.Expires.Sub(now), r.RetryAt.Sub(now), f.HostWaitsUntil.Sub(now))
			}
			if tc.allowed != "" && (r.Rules == nil || !r.Rules.Allowed(tc.allowed)) {
				t.Errorf("%s not allowed", tc.allowed)
			}
			if tc.disallowed != "" && (r.Rules == nil || r.Rules.Allowed(tc.disallowed)) {
				t.Errorf("%s allowed", tc.disallowed)
			}
		})
	}
}
