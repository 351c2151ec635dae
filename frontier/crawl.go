// crawl.go: the Frontier that Open returns: the crawl policy (Decide,
// DecideRobots) over a Store, which only applies what the policy decides.

package frontier

import (
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// crawl is a Frontier: a Store under the crawl policy.
type crawl struct {
	Store
	opts Options
}

// Over is store under the crawl policy of opts: how a store of another
// package (redisstore) becomes a Frontier.
func Over(store Store, opts Options) Frontier { return &crawl{Store: store, opts: opts} }

// StoreOf is the Store under f when Open or Over made it, else nil.
func StoreOf(f Frontier) Store {
	if c, ok := f.(*crawl); ok {
		return c.Store
	}
	return nil
}

// Add implements Frontier: links found one hop from a seed.
func (c *crawl) Add(urls []string, now time.Time) (int, error) {
	return c.Store.Admit(urls, Discovery{Depth: 1}, now)
}

// Done implements Frontier. The policy decides what the result means
// (Decide; DecideRobots for a robots.txt), the store applies it, and the
// links are admitted one hop deeper than their page.
func (c *crawl) Done(res *crawluri.CrawlUri, links []string, now time.Time) (int, error) {
	l, err := c.Store.Lease(res.LeaseID, res.URL)
	if err != nil {
		return 0, err
	}
	if l.Robots {
		// A robots.txt's links are its Sitemap: lines (the sitemap
		// processor's): entry points the site names, seeds' depth.
		d := Discovery{}
		if c.opts.KeepDiscovery {
			d.Via, d.HopPath = res.URL, string(HopManifest)
		}
		added, err := c.Store.Admit(links, d, now)
		if err != nil {
			return added, err
		}
		f := DecideRobots(c.opts, l.RobotsRules, int(res.StatusCode), res.ContentBody, res.ReqTime, l.MinDelay, now)
		c.logRobots(l.URL, res, f, now)
		return added, c.Store.SettleRobots(res.LeaseID, f, now)
	}
	// Links first: a store that applies each step at once (Redis) may
	// fail between the two, and a settled page whose links never made it
	// would lose them; a lease left unsettled is only fetched again.
	o := Decide(c.opts, l.Prior, res.StatusCode, res.RepHeader, res.ReqTime, l.MinDelay, l.CrawlDelay, now)
	added, err := c.Store.Admit(links, c.discovered(res, l), now)
	if err != nil {
		return added, err
	}
	return added, c.Store.Settle(res.LeaseID, o, res, now)
}

// logRobots says when a robots.txt could not be fetched: nothing of its
// host is fetched meanwhile, and a crawl of one dead seed otherwise shows
// done=0 and nothing else.
func (c *crawl) logRobots(u string, res *crawluri.CrawlUri, f RobotsFetched, now time.Time) {
	origin := u[:len(u)-len(robotsPath)]
	switch {
	case f.Retrying:
		c.opts.Logger.Warn().Str("host", origin).Int16("status", res.StatusCode).Str("error", res.Error).Int("attempt", f.Rules.Attempts).
			Int("max_retries", c.opts.MaxRetries).Dur("retry_in", f.Rules.RetryAt.Sub(now)).Time("retry_at", f.Rules.RetryAt).
			Msg("robots.txt unreachable: nothing of this host is fetched before it is; retrying")
	case f.GaveUp:
		c.opts.Logger.Warn().Str("host", origin).Int16("status", res.StatusCode).Str("error", res.Error).Bool("cached_rules", !f.Rules.Unreachable).
			Dur("for", robotsUnreachableTTL).Msg("robots.txt unreachable past the retries: the host is disallowed for a while (or its last rules stand)")
	}
}

// BulkLoad implements BulkLoader: the store's own bulk load when it has
// one, otherwise one that adds and commits batch by batch.
func (c *crawl) BulkLoad(now time.Time) (BulkLoad, error) {
	if b, ok := c.Store.(BulkLoader); ok {
		return b.BulkLoad(now)
	}
	return &batchLoad{f: c, now: now}, nil
}

// discovered is how res's links were found (Discovery: its depth, and
// with KeepDiscovery the page and the hop), and notes on res how res
// itself was (crawluri.VarVia, VarHopPath) for the crawl log.
func (c *crawl) discovered(res *crawluri.CrawlUri, l Leased) Discovery {
	if !c.opts.KeepDiscovery {
		return Discovery{Depth: l.Depth + 1}
	}
	if l.Via != "" {
		res.SetVar(crawluri.VarVia, l.Via)
	}
	if l.HopPath != "" {
		res.SetVar(crawluri.VarHopPath, l.HopPath)
	}
	hop := byte(HopLink)
	switch {
	case res.Var(crawluri.VarSitemap) != "":
		hop = HopManifest
	case crawluri.IsRedirect(res.StatusCode):
		hop = HopRedirect
	}
	return Discovery{Depth: l.Depth, HopPath: l.HopPath}.Next(res.URL, hop)
}
