package master

import (
	"fmt"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// TestSitemapLastmodPolicy: which of a sitemap's dates bring a revisit
// forward: one after the page's last fetch does; one before it, one in
// the future and one for a page never fetched do not; dates that are not
// unix seconds (a stranger's var) are a counted drop and move nothing.
func TestSitemapLastmodPolicy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lastmods func(fetched, now time.Time) string
		advanced int64
		dropped  int64
	}{
		{"after, before, future, never fetched", func(fetched, now time.Time) string {
			return fmt.Sprint(fetched.Add(time.Minute).Unix(), " ", fetched.Add(-time.Minute).Unix(), " ", now.Add(time.Hour).Unix(), " ", now.Unix())
		}, 1, 0},
		{"not unix seconds", func(fetched, now time.Time) string { return "yesterday today" }, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestMaster(t, "prioritizer_crawl_delta", "3600")
			now := time.Now()
			fetched := now.Add(-10 * time.Minute)
			pages := []string{"http://p1.test/", "http://p2.test/", "http://p3.test/"}
			m.addSeeds(append(pages, "http://s.test/sitemap.xml", "http://p4.test/"), nil)
			var sitemap *crawluri.CrawlUri
			for range 5 {
				c := dispatchOne(t, m, now)
				switch c.URL {
				case "http://s.test/sitemap.xml":
					sitemap = c
				case "http://p4.test/": // never fetched
				default:
					if !m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, fetched) {
						t.Fatalf("%s not applied", c.URL)
					}
				}
			}
			res := &crawluri.CrawlUri{URL: sitemap.URL, LeaseID: sitemap.LeaseID, StatusCode: 200}
			res.SetExtractedURLs(append(pages, "http://p4.test/"))
			res.SetVar(crawluri.VarSitemap, "urlset")
			res.SetVar(crawluri.VarSitemapLastMod, tc.lastmods(fetched, now))
			if !m.apply(res, now) {
				t.Fatal("sitemap not applied")
			}
			if m.stats.revisitsAdvanced != tc.advanced || m.stats.drops["bad_sitemap_lastmod"] != tc.dropped {
				t.Fatalf("advanced %d, drops %v; want %d advanced, %d bad_sitemap_lastmod", m.stats.revisitsAdvanced, m.stats.drops, tc.advanced, tc.dropped)
			}
		})
	}
}
