// e2e_limits_test.go: the page and time limits of a run end it cleanly,
// their reason in the summary.

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
)

// TestStopAfterLimits: a crawl of a site larger than the limit stops at
// stop_after_pages (every result in flight still written, no more) or at
// stop_after_time, exits 0, and says why in its summary; the next run
// goes on from where it stopped.
func TestStopAfterLimits(t *testing.T) {
	cases := []struct {
		name   string
		env    string
		delay  time.Duration
		reason string
	}{
		{"pages", "SPYDER_STOP_AFTER_PAGES=15", 0, "page limit: "},
		{"time", "SPYDER_STOP_AFTER_TIME=1.5s", 100 * time.Millisecond, "time limit: stop_after_time 1.5s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site := startSite(t, 60, tc.delay)
			dir := t.TempDir()
			seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
			// One fetch at a time and a small credit: the limit is reached
			// with little in flight.
			c := newCluster(t, tc.env, "SPYDER_MAX_CLIENTS=2", "SPYDER_MASTER_INFLIGHT_PER_WORKER=2")
			w := start(t, "worker", c.Env, "worker")
			began := time.Now()
			m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
			waitClean(t, m, w)
			took := time.Since(began)
			sums := m.Find(event(events.CrawlSummary))
			if len(sums) != 1 {
				t.Fatal("no summary")
			}
			sum := sums[0]["summary"].(map[string]any)
			reason, _ := sum["reason"].(string)
			pages, _ := sum["pages"].(float64)
			queued, _ := sum["queued_left"].(float64)
			if !strings.HasPrefix(reason, tc.reason) || queued == 0 {
				t.Errorf("summary %v: want reason %q with URLs left queued", sum, tc.reason)
			}
			recs := readJSONL(t, dir+"/out.jsonl")
			if float64(len(recs)) != pages {
				t.Errorf("%d records written, %v pages in the summary", len(recs), pages)
			}
			switch tc.name {
			case "pages":
				// The limit, and what was in flight when it was reached.
				if pages < 15 || pages > 15+2 {
					t.Errorf("%v pages with stop_after_pages 15 (at most 2 in flight)", pages)
				}
			case "time":
				if took > 10*time.Second || pages < 1 {
					t.Errorf("%v pages in %v with stop_after_time 1.5s", pages, took)
				}
			}

			// The next run goes on: it fetches what is left.
			w = start(t, "worker", c.Env, "worker")
			m = start(t, "master", c.Env, "master", "--until-done", "--out", dir+"/out.jsonl")
			waitClean(t, m, w)
			if more := readJSONL(t, dir+"/out.jsonl"); len(more) <= len(recs) {
				t.Errorf("the run after the limit wrote nothing more (%d records)", len(more))
			}
		})
	}
}
