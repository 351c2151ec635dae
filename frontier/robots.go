// robots.go: robots.txt in the frontier: each origin's rules, fetching
// them before the origin's first URL, and the URLs they rule out.

package frontier

import (
	"bytes"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/spyder-crawl/spyder/crawluri"
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

// robotsCacheMax bounds the origins whose rules are kept in memory; the
// rest are read from the store when needed.
const robotsCacheMax = 1 << 16

// originRobots is what the store keeps of one origin's robots.txt: the
// rules (RobotsRules, which the policy reads and replaces), their capped
// Crawl-delay, and the fetch in flight.
type originRobots struct {
	origin string
	RobotsRules
	crawlDelay time.Duration // RobotsRules.CrawlDelay, kept
	lease      int64         // the fetch in flight, or 0
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
		err = st.RobotsRules.UnmarshalBinary(it.Value())
		st.crawlDelay = st.CrawlDelay(f.opts)
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
	if st.lease != 0 {
		// The group counts as full while a robots.txt is in flight, so
		// this is a bookkeeping error; holding the group briefly keeps
		// Next from spinning on it.
		q.grp.nextAllowed = now.Add(time.Second).UnixNano()
		return nil, false, 0, fmt.Errorf("frontier: %s offered for dispatch while its robots.txt is in flight", rec.url)
	}
	switch verdict, status := CheckRobots(st.RobotsRules, path, now); verdict {
	case RobotsWait:
		// A failed robots.txt is tried again later; until then the host
		// waits (it may have been released and asked for again).
		f.held.hold(q.grp, st.RetryAt, now)
		f.dirty[q] = struct{}{}
		return nil, false, 0, nil
	case RobotsFetchFirst:
		return f.leaseRobots(q, st, now), false, 0, nil
	case RobotsDisallow:
		return nil, false, 0, f.decide(q, rec, status, now)
	}
	return nil, true, st.crawlDelay, nil
}

// leaseRobots dispatches the robots.txt of st's origin for the group of q.
func (f *Durable) leaseRobots(q *queueState, st *originRobots, now time.Time) *crawluri.CrawlUri {
	f.nextLease++
	id := f.nextLease
	u := st.origin + robotsPath
	l := &leaseState{url: u, queue: q.id, deadline: now.Add(f.opts.LeaseTimeout), robots: st}
	f.leases[id] = l
	st.lease = id
	q.grp.inFlight++
	q.grp.robotsInFlight++
	f.politeAtDispatch(q, l, st.crawlDelay, now)
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

// SettleRobots implements Store.
func (f *Durable) SettleRobots(id int64, fetched RobotsFetched, now time.Time) error {
	l, err := f.lease(id, "")
	if err != nil {
		return err
	}
	if l.robots == nil {
		return fmt.Errorf("frontier: lease %d is not a robots.txt fetch", id)
	}
	q, err := f.endLease(id, l)
	if err != nil {
		return err
	}
	st := l.robots
	st.RobotsRules = fetched.Rules
	st.crawlDelay = st.CrawlDelay(f.opts)
	rec, err := st.RobotsRules.MarshalBinary()
	if err != nil {
		return err
	}
	if err := f.b.Set(robotsKey(st.origin), rec, nil); err != nil {
		return err
	}
	if g := q.grp; g != nil {
		if fetched.Retrying {
			f.held.hold(g, st.RetryAt, now)
		}
		g.wait(fetched.HostWaitsUntil)
	}
	f.dirty[q] = struct{}{}
	f.touch(q, now)
	return nil
}
