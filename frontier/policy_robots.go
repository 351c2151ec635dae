// policy_robots.go: the robots.txt policy as plain Go over plain values:
// what an origin's rules say of a URL about to be dispatched, and what the
// result of a robots.txt fetch does to the origin's rules and its host.

package frontier

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/robots"
)

// RobotsRules is what is known of an origin's robots.txt (RFC 9309). A
// store keeps it; the policy reads and replaces it.
type RobotsRules struct {
	Rules       *robots.Group // nil until a verdict was reached
	Expires     time.Time     // the rules must be fetched again from then
	RetryAt     time.Time     // after a failed fetch, the next try is not before then
	Attempts    int           // failed fetches in a row
	Unreachable bool          // the rules stand for a robots.txt that could not be fetched
}

// CrawlDelay is the rules' Crawl-delay capped by opts.MaxCrawlDelay (0
// there ignores Crawl-delay): a floor on the pause after every request to
// the origin's host.
func (r RobotsRules) CrawlDelay(opts Options) time.Duration {
	if r.Rules == nil {
		return 0
	}
	if d, ok := r.Rules.CrawlDelay(); ok && opts.MaxCrawlDelay > 0 {
		return min(d, opts.MaxCrawlDelay)
	}
	return 0
}

// A robots record: version, expiry, next try, failed attempts, flags
// (bit 0: rules known, bit 1: unreachable), then the encoded rules.
const robotsRecordHeader = 1 + 8 + 8 + 1 + 1

// MarshalBinary encodes the rules as every store keeps them.
func (r RobotsRules) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, robotsRecordHeader+64)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(r.Expires)))
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(r.RetryAt)))
	flags := byte(0)
	if r.Rules != nil {
		flags |= 1
	}
	if r.Unreachable {
		flags |= 2
	}
	b = append(b, byte(min(r.Attempts, 255)), flags)
	if r.Rules != nil {
		g, err := r.Rules.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = append(b, g...)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (r *RobotsRules) UnmarshalBinary(b []byte) error {
	if len(b) < robotsRecordHeader || b[0] != 1 {
		return fmt.Errorf("frontier store: corrupt robots record (%d bytes)", len(b))
	}
	*r = RobotsRules{
		Expires:     fromUnixNano(int64(binary.BigEndian.Uint64(b[1:]))),
		RetryAt:     fromUnixNano(int64(binary.BigEndian.Uint64(b[9:]))),
		Attempts:    int(b[17]),
		Unreachable: b[18]&2 != 0,
	}
	if b[18]&1 != 0 {
		var g robots.Group
		if err := g.UnmarshalBinary(b[robotsRecordHeader:]); err != nil {
			return fmt.Errorf("frontier store: robots record: %w", err)
		}
		r.Rules = &g
	}
	return nil
}

// Allowed reports whether the rules let path (with its query) be fetched,
// and the status of a URL they rule out: 910, or 911 when the origin is
// disallowed because its robots.txt could not be fetched. Rules not known
// yet allow nothing to be said: ask CheckRobots first.
func (r RobotsRules) Allowed(path string) (bool, int16) {
	if r.Rules == nil || r.Rules.Allowed(path) {
		return true, 0
	}
	if r.Unreachable {
		return false, crawluri.StatusRobotsUnreachable
	}
	return false, crawluri.StatusRobotsDisallowed
}

// RobotsVerdict is what robots.txt says of a URL about to be dispatched.
type RobotsVerdict byte

const (
	// RobotsAllow: dispatch the URL.
	RobotsAllow RobotsVerdict = iota
	// RobotsFetchFirst: dispatch the origin's robots.txt in its place (no
	// rules yet, or they expired).
	RobotsFetchFirst
	// RobotsWait: a failed robots.txt is tried again at RetryAt; until
	// then nothing of the host is dispatched.
	RobotsWait
	// RobotsDisallow: take the URL out of the crawl without a fetch, with
	// the status CheckRobots returns (910, or 911 when the origin is
	// disallowed because its robots.txt could not be fetched).
	RobotsDisallow
)

// CheckRobots is the verdict of the origin's rules r on path (with its
// query) at now.
func CheckRobots(r RobotsRules, path string, now time.Time) (RobotsVerdict, int16) {
	switch {
	case r.Rules == nil || !now.Before(r.Expires):
		if r.RetryAt.After(now) {
			return RobotsWait, 0
		}
		return RobotsFetchFirst, 0
	}
	if ok, status := r.Allowed(path); !ok {
		return RobotsDisallow, status
	}
	return RobotsAllow, 0
}

// robotsUnreachableTTL is how long a verdict forced by an unreachable
// robots.txt stands before the file is tried again.
const robotsUnreachableTTL = time.Hour

// RobotsFetched is what the result of a robots.txt fetch does.
type RobotsFetched struct {
	Rules RobotsRules // the origin's rules from now on
	// HostWaitsUntil is the host's politeness after the fetch: no request
	// before it (until the next try, after a failure).
	HostWaitsUntil time.Time
	// Retrying: the fetch failed and is tried again at Rules.RetryAt.
	// GaveUp: it failed past the retries; the last rules stand
	// (Rules.Unreachable false) or the origin is disallowed as a whole
	// (true) for an hour.
	Retrying, GaveUp bool
}

// DecideRobots applies the robots.txt policy to the result of a fetch of
// an origin's robots.txt (RFC 9309 2.3.1): status with body, the fetch's
// duration in seconds, and the host's least delay.
//
//   - 2xx: the file's rules for opts.RobotsAgent, for opts.RobotsTTL.
//   - 3xx (redirects beyond those followed), 4xx but 429: no rules
//     ("unavailable"), for opts.RobotsTTL.
//   - 429, 5xx, transport errors: the host is held and the file tried
//     again with the retry back-off; past opts.MaxRetries the last rules
//     stand for an hour (2.4: a cached copy may stand in), or with none
//     the origin is disallowed for an hour.
func DecideRobots(opts Options, prior RobotsRules, status int, body []byte, reqSeconds float64, minDelay time.Duration, now time.Time) RobotsFetched {
	var out RobotsFetched
	fresh := func(g *robots.Group, ttl time.Duration) RobotsRules {
		return RobotsRules{Rules: g, Expires: now.Add(ttl)}
	}
	var hold time.Duration
	switch {
	case status >= 200 && status < 300:
		out.Rules = fresh(robots.Parse(body).For(opts.RobotsAgent), opts.RobotsTTL)
	case status >= 300 && status < 500 && status != 429:
		out.Rules = fresh(robots.AllowAll().For(opts.RobotsAgent), opts.RobotsTTL)
	default:
		out.Rules = prior
		out.Rules.Attempts++
		switch {
		case out.Rules.Attempts <= opts.MaxRetries:
			hold = opts.RetryBackoff << (out.Rules.Attempts - 1)
			out.Rules.RetryAt = now.Add(hold)
			out.Retrying = true
		case prior.Rules != nil && !prior.Unreachable:
			out.Rules.Attempts, out.Rules.RetryAt, out.Rules.Expires = 0, time.Time{}, now.Add(robotsUnreachableTTL)
			out.GaveUp = true
		default:
			out.Rules = fresh(robots.DisallowAll().For(opts.RobotsAgent), robotsUnreachableTTL)
			out.Rules.Unreachable = true
			out.GaveUp = true
		}
	}
	out.HostWaitsUntil = now.Add(max(hold, politeDelay(opts, minDelay, reqSeconds), out.Rules.CrawlDelay(opts)))
	return out
}
