// robots.go: robots.txt in the frontier: each origin's rules, fetching
// them before the origin's first URL, and the URLs they rule out.

package frontier

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/robots"
	"github.com/spyder-crawl/spyder/urlx"
)

// robots.txt (RFC 9309) lives in the frontier because it decides what is
// dispatched and when, like politeness does. Rules are kept per origin
// (scheme://host:port, as the RFC scopes them) in 'R' records:
//
//   - Before the first URL of an origin is dispatched, the frontier hands
//     out the origin's /robots.txt instead, under the same politeness as
//     any request to the host. Until its result arrives nothing else of
//     that politeness group is dispatched: multiple_host groups allow one
//     URL in flight anyway, and a group with a robots.txt in flight counts
//     as full for single_host.
//   - The rules for Options.RobotsAgent are stored with an expiry
//     (Options.RobotsTTL); the first URL of the origin dispatched after it
//     fetches the file again first.
//   - 2xx: the file's rules. 3xx (redirects the worker did not follow,
//     more than it follows), 4xx: no rules. 5xx, 429, transport errors:
//     the host is held and the file tried again with the retry back-off;
//     past Options.MaxRetries the last rules fetched stay in force for
//     robotsUnreachableTTL, or, with none, the origin is disallowed as a
//     whole for that long.
//   - A URL the rules disallow is taken from its queue without being
//     dispatched, recorded as failed with status 910 (911 when the origin
//     is disallowed because its robots.txt was unreachable), and handed
//     to the master through Decided for the sinks.
//   - Crawl-delay, capped by Options.MaxCrawlDelay, is a floor on the
//     pause after every request to the origin's host.
//
// The robots.txt fetch is not a URL of the crawl: it has no URL record or
// queue entry, and its lease is not stored (after a restart the origin's
// rules are simply unknown, or expired, and fetched again).

// robotsUnreachableTTL is how long a verdict forced by an unreachable
// robots.txt stands before the file is tried again.
const robotsUnreachableTTL = time.Hour

// robotsCacheMax bounds the origins whose rules are kept in memory; the
// rest are read from the store when needed.
const robotsCacheMax = 1 << 16

// originRobots is what the frontier knows of one origin's robots.txt.
type originRobots struct {
	origin      string
	rules       *robots.Group // nil until a verdict was reached
	expires     time.Time     // the rules must be fetched again from then
	retryAt     time.Time     // after a failed fetch, the next try is not before then
	attempts    int           // failed fetches in a row
	unreachable bool          // rules stand for a robots.txt that could not be fetched
	crawlDelay  time.Duration // Crawl-delay, capped
	lease       int64         // the fetch in flight, or 0
}

// robotsPath is where RFC 9309 puts the file.
const robotsPath = "/robots.txt"

func robotsKey(origin string) []byte { return append([]byte{pfxRobots}, origin...) }

// robotsState returns the origin's state, from memory or the store.
func (f *Durable) robotsState(origin string) (*originRobots, error) {
	if st := f.robots[origin]; st != nil {
		return st, nil
	}
	st := &originRobots{origin: origin}
	// Through an iterator with the Bloom filters of every level, as for
	// the seen set: most origins asked about for the first time have no
	// record, and a point Get would read a block of the bottom level to
	// find that out.
	it, err := f.sharedIter(&f.rit, &pebble.IterOptions{LowerBound: []byte{pfxRobots}, UpperBound: []byte{pfxRobots + 1}, UseL6Filters: true})
	if err != nil {
		return nil, fmt.Errorf("frontier store: reading robots.txt rules of %s: %w", origin, err)
	}
	key := robotsKey(origin)
	switch {
	case !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key):
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("frontier store: reading robots.txt rules of %s: %w", origin, err)
		}
	default:
		err = st.decode(it.Value())
		if st.rules != nil {
			st.crawlDelay = f.cappedCrawlDelay(st.rules)
		}
		if err != nil {
			// The rules are fetched again rather than the crawl stopped.
			f.opts.Logger.Error().Err(err).Str("host", origin).Msg("frontier: stored robots.txt rules unreadable; fetching them again")
			st = &originRobots{origin: origin}
		}
	}
	if len(f.robots) >= robotsCacheMax {
		for o, s := range f.robots { // random order: drop about half
			if s.lease == 0 && len(f.robots) > robotsCacheMax/2 {
				delete(f.robots, o)
			}
		}
	}
	f.robots[origin] = st
	return st, nil
}

// A robots record: version, expiry, next try, failed attempts, flags
// (bit 0: rules known, bit 1: unreachable), then the encoded rules.
const robotsRecordHeader = 1 + 8 + 8 + 1 + 1

func (st *originRobots) encode() ([]byte, error) {
	b := make([]byte, 0, robotsRecordHeader+64)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(st.expires)))
	b = binary.BigEndian.AppendUint64(b, uint64(unixNano(st.retryAt)))
	flags := byte(0)
	if st.rules != nil {
		flags |= 1
	}
	if st.unreachable {
		flags |= 2
	}
	b = append(b, byte(min(st.attempts, 255)), flags)
	if st.rules != nil {
		g, err := st.rules.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = append(b, g...)
	}
	return b, nil
}

func (st *originRobots) decode(b []byte) error {
	if len(b) < robotsRecordHeader || b[0] != 1 {
		return fmt.Errorf("frontier store: corrupt robots record (%d bytes)", len(b))
	}
	st.expires = fromUnixNano(int64(binary.BigEndian.Uint64(b[1:])))
	st.retryAt = fromUnixNano(int64(binary.BigEndian.Uint64(b[9:])))
	st.attempts = int(b[17])
	flags := b[18]
	st.unreachable = flags&2 != 0
	if flags&1 != 0 {
		var g robots.Group
		if err := g.UnmarshalBinary(b[robotsRecordHeader:]); err != nil {
			return fmt.Errorf("frontier store: robots record: %w", err)
		}
		st.rules = &g
	}
	return nil
}

// setRules installs a verdict reached by a fetch, valid for ttl.
func (f *Durable) setRules(st *originRobots, g *robots.Group, ttl time.Duration, now time.Time) {
	st.rules, st.expires = g, now.Add(ttl)
	st.crawlDelay = f.cappedCrawlDelay(g)
	st.attempts, st.retryAt, st.unreachable = 0, time.Time{}, false
}

// cappedCrawlDelay is g's Crawl-delay capped by Options.MaxCrawlDelay (0
// there ignores Crawl-delay).
func (f *Durable) cappedCrawlDelay(g *robots.Group) time.Duration {
	if d, ok := g.CrawlDelay(); ok && f.opts.MaxCrawlDelay > 0 {
		return min(d, f.opts.MaxCrawlDelay)
	}
	return 0
}

// robotsCheck decides what to do with the head of q, whose record is rec,
// under robots.txt:
// dispatch it (dispatch true), or dispatch the origin's robots.txt in its
// place (c), or nothing now (the head was decided without a fetch, or the
// group is held until a failed robots.txt may be tried again).
func (f *Durable) robotsCheck(q *queueState, rec urlRecord, now time.Time) (c *crawluri.CrawlUri, dispatch bool, delay time.Duration, err error) {
	origin, path := urlx.SplitOrigin(rec.url)
	st, err := f.robotsState(origin)
	if err != nil {
		return nil, false, 0, err
	}
	switch {
	case st.lease != 0:
		// The group counts as full while a robots.txt is in flight, so
		// this is a bookkeeping error; holding the group briefly keeps
		// Next from spinning on it.
		q.grp.nextAllowed = now.Add(time.Second)
		return nil, false, 0, fmt.Errorf("frontier: %s offered for dispatch while its robots.txt is in flight", rec.url)
	case st.rules == nil || !now.Before(st.expires):
		if st.retryAt.After(now) {
			// A failed robots.txt is tried again later; until then the
			// host waits (it may have been released and asked for again).
			q.grp.hold(st.retryAt)
			f.dirty[q] = struct{}{}
			return nil, false, 0, nil
		}
		return f.leaseRobots(q, st, now), false, 0, nil
	case !st.rules.Allowed(path):
		status := int16(crawluri.StatusRobotsDisallowed)
		if st.unreachable {
			status = crawluri.StatusRobotsUnreachable
		}
		return nil, false, 0, f.decide(q, rec, status, now)
	}
	return nil, true, st.crawlDelay, nil
}

// leaseRobots dispatches the robots.txt of st's origin for the group of q.
func (f *Durable) leaseRobots(q *queueState, st *originRobots, now time.Time) *crawluri.CrawlUri {
	f.nextLease++
	id := f.nextLease
	u := st.origin + robotsPath
	f.leases[id] = &leaseState{url: u, queue: q.id, deadline: now.Add(f.opts.LeaseTimeout), robots: st}
	st.lease = id
	q.grp.inFlight++
	q.grp.robotsInFlight++
	f.politeAtDispatch(q, st.crawlDelay, now)
	return &crawluri.CrawlUri{URL: u, EffectiveURL: u, LeaseID: id}
}

// decide takes the head of q out of the crawl without a fetch: it is
// recorded as failed with status, and handed to the master by Decided.
func (f *Durable) decide(q *queueState, rec urlRecord, status int16, now time.Time) error {
	head, err := f.take(q)
	if err != nil {
		return err
	}
	if rec.state == stateScheduled {
		f.stats.Scheduled--
	} else {
		f.stats.Queued--
	}
	if err := f.b.Delete(head.key, nil); err != nil {
		return err
	}
	rec.state, rec.status = stateFailed, status
	rec.note(now, evResult, int64(status))
	if err := f.b.Set(urlKey(head.k), rec.encode(), nil); err != nil {
		return err
	}
	f.stats.Disallowed++
	f.dirty[q] = struct{}{}
	f.decided = append(f.decided, &crawluri.CrawlUri{URL: rec.url, EffectiveURL: rec.url, StatusCode: status})
	return nil
}

// Decided implements Frontier.
func (f *Durable) Decided() []*crawluri.CrawlUri {
	out := f.decided
	f.decided = nil
	return out
}

// robotsDone applies the result of a robots.txt fetch.
func (f *Durable) robotsDone(id int64, l *leaseState, res *crawluri.CrawlUri, now time.Time) error {
	q, err := f.endLease(id, l)
	if err != nil {
		return err
	}
	st := l.robots
	status := int(res.StatusCode)
	var hold time.Duration
	switch {
	case status >= 200 && status < 300:
		f.setRules(st, robots.Parse(res.ContentBody).For(f.opts.RobotsAgent), f.opts.RobotsTTL, now)
	case status >= 300 && status < 500 && status != 429:
		// RFC 9309 2.3.1.2 and 2.3.1.3: redirects beyond those followed,
		// and "unavailable" (4xx), mean no rules.
		f.setRules(st, robots.AllowAll().For(f.opts.RobotsAgent), f.opts.RobotsTTL, now)
	default:
		st.attempts++
		if st.attempts <= f.opts.MaxRetries {
			hold = f.opts.RetryBackoff << (st.attempts - 1)
			st.retryAt = now.Add(hold)
			if q.grp != nil {
				q.grp.hold(st.retryAt)
			}
			// A warning with the error: a crawl of one dead seed otherwise
			// shows done=0 and nothing else.
			f.opts.Logger.Warn().Str("host", st.origin).Int("status", status).Str("error", res.Error).Int("attempt", st.attempts).
				Int("max_retries", f.opts.MaxRetries).Dur("retry_in", hold).Time("retry_at", st.retryAt).
				Msg("robots.txt unreachable: nothing of this host is fetched before it is; retrying")
			break
		}
		if st.rules != nil && !st.unreachable {
			// RFC 9309 2.4: a cached copy may stand in.
			st.attempts, st.retryAt, st.expires = 0, time.Time{}, now.Add(robotsUnreachableTTL)
		} else {
			f.setRules(st, robots.DisallowAll().For(f.opts.RobotsAgent), robotsUnreachableTTL, now)
			st.unreachable = true
		}
		f.opts.Logger.Warn().Str("host", st.origin).Int("status", status).Str("error", res.Error).Bool("cached_rules", !st.unreachable).
			Dur("for", robotsUnreachableTTL).Msg("robots.txt unreachable past the retries: the host is disallowed for a while (or its last rules stand)")
	}
	rec, err := st.encode()
	if err != nil {
		return err
	}
	if err := f.b.Set(robotsKey(st.origin), rec, nil); err != nil {
		return err
	}
	if g := q.grp; g != nil {
		g.wait(now.Add(max(hold, politeDelay(f.opts, f.minDelay(q), res.ReqTime), st.crawlDelay)))
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return nil
}
