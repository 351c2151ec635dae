// lastmod.go: a sitemap's <lastmod> bringing a changed page's revisit
// forward.

package master

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
)

// advanceChanged brings forward the revisits of the pages sitemap result
// c says changed after their last fetch (VarSitemapLastMod): they are due
// now rather than at prioritizer_crawl_delta x level. The store decides
// on each URL it knows; this says which URLs and dates count. A date in
// the future is the site's mistake and is ignored: it would bring the
// page back at every read of its sitemap.
func (m *Master) advanceChanged(c *crawluri.CrawlUri, now time.Time) {
	dates := c.Var(crawluri.VarSitemapLastMod)
	if dates == "" || m.s.PrioritizerCrawlDelta <= 0 {
		return
	}
	adv, ok := frontier.Revisits(m.frontier)
	if !ok {
		return
	}
	raw := c.ExtractedURLs()
	var changes []frontier.Change
	for i, field := range strings.Fields(dates) {
		if i == len(raw) {
			break
		}
		sec, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			m.drop("bad_sitemap_lastmod", fmt.Errorf("%s from %s: %q is not unix seconds", crawluri.VarSitemapLastMod, c.WorkerID, field))
			return
		}
		at := time.Unix(sec, 0)
		if at.After(now) {
			continue
		}
		if u, err := m.gate.Link(raw[i]); err == nil {
			changes = append(changes, frontier.Change{URL: u, At: at})
		}
	}
	moved, err := adv.AdvanceRevisits(changes, now)
	if err != nil {
		m.log.Error().Err(err).Str("url", c.URL).Msg("bringing revisits forward from a sitemap's lastmod failed; they stay at their times")
	}
	if moved > 0 {
		m.stats.revisitsAdvanced += int64(moved)
		m.log.Info().Str("url", c.URL).Int("advanced", moved).Msg("sitemap: pages changed since their last fetch are due now")
	}
}
