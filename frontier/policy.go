// policy.go: the crawl policy as plain Go over plain values: what a result
// means for its URL and its host (retry, revisit, hold, politeness delay).

package frontier

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// The crawl policy for a result: what happens to a URL and to its host's
// politeness, given the result and what the store knows of the URL. Plain
// values in, a decision out, no store underneath (as Heritrix keeps its
// DispositionProcessor apart from the queues), so that any store applies
// the same policy and a table tests it.

// Fate is what becomes of a URL after a result.
type Fate byte

const (
	// FateDone: fetched (2xx, 3xx, 304), not to be fetched again.
	FateDone Fate = iota
	// FateRevisit: fetched, to be fetched again at Outcome.Due.
	FateRevisit
	// FateRetry: to be fetched again at Outcome.Due (429, 5xx, transport
	// errors, worker failures) within the retries.
	FateRetry
	// FateFailed: recorded as failed (4xx, or past the retries).
	FateFailed
)

// Prior is what the policy needs of a URL's past.
type Prior struct {
	Attempts int // retries already made
	Level    int // revisit level (1 after a change; each 304 raises it)
}

// Outcome is the policy's decision on one result.
type Outcome struct {
	Fate     Fate
	Due      time.Time // when to fetch again (FateRetry, FateRevisit)
	Attempts int       // retries made, after this result
	Level    int       // revisit level, after this result
	// NewValidators: the result's validators replace the stored ones (a
	// 2xx); a 304 keeps those it was asked with.
	NewValidators bool
	// HostHeldUntil holds the host (a Retry-After of a 429 or 503), or is
	// zero.
	HostHeldUntil time.Time
	// HostWaitsUntil is the host's politeness: no request before it.
	HostWaitsUntil time.Time
	// BudgetCost is what the result costs its host's queue budget.
	BudgetCost int
}

// Decide applies the crawl policy to a result of status with response
// headers hdr, taking reqSeconds; minDelay is the host's least delay (an
// operator's, or the crawl's) and crawlDelay its robots.txt Crawl-delay.
func Decide(opts Options, prior Prior, status int16, hdr map[string]string, reqSeconds float64, minDelay, crawlDelay time.Duration, now time.Time) Outcome {
	o := Outcome{Attempts: prior.Attempts, Level: prior.Level, BudgetCost: 1}
	var retryAfter time.Duration
	if status == 429 || status == 503 {
		retryAfter = parseRetryAfter(crawluri.HeaderValue(hdr, "Retry-After"), now, opts.MaxRetryAfter)
		if retryAfter > 0 {
			o.HostHeldUntil = now.Add(retryAfter)
		}
	}
	o.HostWaitsUntil = now.Add(max(politeDelay(opts, minDelay, reqSeconds), crawlDelay))
	// The queue budget: spyder charged 1 per response and
	// QUEUE_BUDGET_PUNISH per server error.
	if status >= 500 || status < 100 {
		o.BudgetCost = max(opts.QueueBudgetPunish, 0)
	}
	switch {
	case crawluri.IsSuccess(status), status == 304:
		o.Attempts = 0
		if status == 304 {
			o.Level = min(max(prior.Level, 1)+1, max(opts.NumPriorities, 1))
		} else {
			o.Level, o.NewValidators = 1, true
		}
		o.Fate = FateDone
		if opts.CrawlDelta > 0 {
			o.Fate, o.Due = FateRevisit, now.Add(opts.CrawlDelta*time.Duration(o.Level))
		}
	case crawluri.IsRedirect(status):
		o.Fate = FateDone
	case crawluri.IsRetryable(status) && prior.Attempts < opts.MaxRetries:
		o.Attempts++
		o.Fate, o.Due = FateRetry, now.Add(max(opts.RetryBackoff<<(o.Attempts-1), retryAfter))
	default:
		o.Fate = FateFailed
	}
	return o
}

// politeDelay is the pause a host gets after a request that took
// reqSeconds; minDelay is its least delay (Options.MinDelay unless an
// operator set another for the host).
func politeDelay(opts Options, minDelay time.Duration, reqSeconds float64) time.Duration {
	if !(reqSeconds > 0) { // also catches NaN
		reqSeconds = 0
	}
	reqSeconds = min(reqSeconds, maxReqTime.Seconds())
	d := time.Duration(opts.CrawlDelayFactor * reqSeconds * float64(time.Second))
	return max(d, minDelay)
}

// parseRetryAfter reads a Retry-After value (seconds or an HTTP date),
// capped at limit; an absent or unreadable value is 0.
func parseRetryAfter(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(limit/time.Second)+1)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}
