// stats.go: the master's own counts (results by class, dropped messages
// by reason, leases ended early) that logs, metrics and reports read.

package master

import (
	"fmt"
	"maps"
)

// classes names the non-zero result counts by status class.
func (c *counters) classes() map[string]int64 {
	out := map[string]int64{}
	for i, n := range c.byClass {
		if n == 0 {
			continue
		}
		name := "other"
		if i > 0 {
			name = fmt.Sprintf("%dxx", i)
		}
		out[name] = n
	}
	return out
}

// counters are the master's counts since it started.
type counters struct {
	dispatched int64
	results    int64
	byClass    [10]int64 // by crawluri.StatusClass
	bytes      int64     // of the bodies of results
	returned   int64
	released   int64 // leases of lost workers, or claimed by none, queued again
	unclaimed  int64 // of those: no worker listed them within two heartbeats
	expired    int64
	linksNew   int64
	sinkErrors int64
	// linksLeftOut counts the links the gate refused, by urlx.Reason.
	linksLeftOut map[string]int64
	linksCut     int64 // links beyond max_links_per_page (a sitemap's: sitemap_max_urls) in one result
	// sitemapErrors counts sitemaps a worker could not read whole (bad
	// XML, too large, too many URLs).
	sitemapErrors int64
	// revisitsAdvanced counts revisits a sitemap's <lastmod> brought
	// forward.
	revisitsAdvanced int64
	drops            map[string]int64 // messages dropped, by reason
}

// drops are the counts of dropped messages by reason, with the refused
// CURVE handshakes as curve_refused; a copy.
func (m *Master) drops() map[string]int64 {
	d := maps.Clone(m.stats.drops)
	if m.auth != nil {
		d["curve_refused"] = m.auth.Refused()
	}
	return d
}

// drop counts a dropped message by reason and logs the first ten of each
// reason and every thousandth.
func (m *Master) drop(reason string, err error) {
	m.stats.drops[reason]++
	if n := m.stats.drops[reason]; n > 10 && n%1000 != 0 {
		return // the first ten and every thousandth are logged
	}
	m.log.Warn().Str("reason", reason).Int64("count", m.stats.drops[reason]).Err(err).Msg("dropped a message")
}
