// policy_test.go: the result policy as a table.

package frontier

import (
	"testing"
	"time"
)

// TestDecide is the crawl policy as a table: for a URL's past and a
// result, what becomes of the URL and of its host.
func TestDecide(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	opts := Options{MaxRetries: 3, RetryBackoff: 30 * time.Second, MaxRetryAfter: time.Hour, CrawlDelta: 24 * time.Hour,
		NumPriorities: 10, QueueBudgetPunish: 5, CrawlDelayFactor: 4}
	noRevisits := opts
	noRevisits.CrawlDelta = 0
	at := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name       string
		opts       Options
		prior      Prior
		status     int16
		hdr        map[string]string
		reqSeconds float64
		minDelay   time.Duration
		crawlDelay time.Duration
		want       Outcome
	}{
		{name: "200: revisit after delta, new validators", opts: opts, prior: Prior{Attempts: 2, Level: 4}, status: 200, reqSeconds: 0.5, minDelay: time.Second,
			want: Outcome{Fate: FateRevisit, Due: at(24 * time.Hour), Level: 1, NewValidators: true, HostWaitsUntil: at(2 * time.Second), BudgetCost: 1}},
		{name: "200 without revisits: done", opts: noRevisits, status: 200, minDelay: time.Second,
			want: Outcome{Fate: FateDone, Level: 1, NewValidators: true, HostWaitsUntil: at(time.Second), BudgetCost: 1}},
		{name: "304 raises the level", opts: opts, prior: Prior{Level: 2}, status: 304,
			want: Outcome{Fate: FateRevisit, Due: at(3 * 24 * time.Hour), Level: 3, HostWaitsUntil: now, BudgetCost: 1}},
		{name: "304 at the top level stays there", opts: opts, prior: Prior{Level: 10}, status: 304,
			want: Outcome{Fate: FateRevisit, Due: at(10 * 24 * time.Hour), Level: 10, HostWaitsUntil: now, BudgetCost: 1}},
		{name: "301: done", opts: opts, prior: Prior{Attempts: 1}, status: 301,
			want: Outcome{Fate: FateDone, Attempts: 1, HostWaitsUntil: now, BudgetCost: 1}},
		{name: "404: failed", opts: opts, status: 404,
			want: Outcome{Fate: FateFailed, HostWaitsUntil: now, BudgetCost: 1}},
		{name: "500: first retry after the back-off, punished", opts: opts, status: 500,
			want: Outcome{Fate: FateRetry, Due: at(30 * time.Second), Attempts: 1, HostWaitsUntil: now, BudgetCost: 5}},
		{name: "599: third retry, back-off doubled twice", opts: opts, prior: Prior{Attempts: 2}, status: 599,
			want: Outcome{Fate: FateRetry, Due: at(120 * time.Second), Attempts: 3, HostWaitsUntil: now, BudgetCost: 5}},
		{name: "500 past the retries: failed", opts: opts, prior: Prior{Attempts: 3}, status: 500,
			want: Outcome{Fate: FateFailed, Attempts: 3, HostWaitsUntil: now, BudgetCost: 5}},
		{name: "429 with Retry-After: host held, retry not before it", opts: opts, status: 429, hdr: map[string]string{"Retry-After": "120"},
			want: Outcome{Fate: FateRetry, Due: at(120 * time.Second), Attempts: 1, HostHeldUntil: at(120 * time.Second), HostWaitsUntil: now, BudgetCost: 1}},
		{name: "503 with a Retry-After beyond the cap", opts: opts, status: 503, hdr: map[string]string{"Retry-After": "86400"},
			want: Outcome{Fate: FateRetry, Due: at(time.Hour), Attempts: 1, HostHeldUntil: at(time.Hour), HostWaitsUntil: now, BudgetCost: 5}},
		{name: "810 (worker failure): retried", opts: opts, status: 810,
			want: Outcome{Fate: FateRetry, Due: at(30 * time.Second), Attempts: 1, HostWaitsUntil: now, BudgetCost: 5}},
		{name: "robots.txt Crawl-delay beats the delay factor", opts: opts, status: 404, reqSeconds: 1, crawlDelay: 10 * time.Second,
			want: Outcome{Fate: FateFailed, HostWaitsUntil: at(10 * time.Second), BudgetCost: 1}},
		{name: "a request time beyond reason is capped", opts: opts, status: 404, reqSeconds: 1e12,
			want: Outcome{Fate: FateFailed, HostWaitsUntil: now.Add(time.Duration(4 * maxReqTime.Seconds() * float64(time.Second))), BudgetCost: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.opts, tc.prior, tc.status, tc.hdr, tc.reqSeconds, tc.minDelay, tc.crawlDelay, now)
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
