// report.go: the progress line and the crawl's final summary.

package master

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/urlx"
)

// What a person reads while a crawl runs (the progress line) and when it
// ends (the summary), after Scrapy's stats dump.

// report logs the progress line: elapsed time, pages and bytes done,
// pages/s and MB/s over the last interval, queued and in flight, errors
// and the hosts waiting on errors.
func (m *Master) report(now time.Time) {
	fs := m.frontierStats()
	interval := now.Sub(m.lastReport.at).Seconds()
	var pagesPerSec, mbPerSec float64
	if interval > 0 {
		pagesPerSec = float64(m.stats.results-m.lastReport.results) / interval
		mbPerSec = float64(m.stats.bytes-m.lastReport.bytes) / interval / 1e6
	}
	m.lastReport.at, m.lastReport.results, m.lastReport.bytes = now, m.stats.results, m.stats.bytes
	var drops int64
	for _, n := range m.stats.drops {
		drops += n
	}
	var held int64
	if !m.store.down() {
		held = m.frontier.BlockedQueues(now)
	}
	elapsed := now.Sub(m.started).Round(time.Second)
	msg := fmt.Sprintf("%v: %d pages (%s), %.1f pages/s, %.2f MB/s; %d queued, %d in flight; %d errors",
		elapsed, m.stats.results, megabytes(m.stats.bytes), pagesPerSec, mbPerSec, fs.Queued, m.inFlight(), fs.Failed)
	if held > 0 {
		msg += fmt.Sprintf(", %d hosts waiting (errors, Retry-After, blocks)", held)
	}
	m.log.Info().Str("event", "progress").Str("state", m.stateName()).Dur("elapsed", elapsed).
		Int64("results", m.stats.results).Int64("bytes", m.stats.bytes).
		Float64("pages_per_s", round1(pagesPerSec)).Float64("mb_per_s", float64(int(mbPerSec*100))/100).
		Int64("queued", fs.Queued).Int64("scheduled", fs.Scheduled).Int("in_flight", m.inFlight()).
		Int64("done", fs.Done).Int64("errors", fs.Failed).Int64("disallowed", fs.Disallowed).Int64("hosts_held", held).
		Int("workers", m.registry.Live()).Int64("dropped", drops).Msg(msg)
}

// Summary is what a crawl did, logged once when the master stops (event
// SPYDER:CRAWL_SUMMARY, field "summary") and shown as a table on a
// terminal.
type Summary struct {
	Reason       string           `json:"reason"`
	Elapsed      float64          `json:"elapsed_s"`
	Pages        int64            `json:"pages"`
	ByClass      map[string]int64 `json:"pages_by_class"`
	Bytes        int64            `json:"bytes"`
	AvgRate      float64          `json:"pages_per_s_avg"`
	PeakRate     float64          `json:"pages_per_s_peak"`
	Retries      int64            `json:"retries"`
	RobotsDenied int64            `json:"robots_txt_refused"`
	Failed       int64            `json:"failed"`
	LeftOut      map[string]int64 `json:"left_out"`
	// SitemapErrors counts sitemaps read in part or not at all.
	SitemapErrors int64 `json:"sitemap_errors"`
	// RevisitsAdvanced counts revisits brought forward because a sitemap's
	// <lastmod> was after the page's last fetch.
	RevisitsAdvanced int64    `json:"revisits_advanced"`
	Queued           int64    `json:"queued_left"`
	Scheduled        int64    `json:"revisits_scheduled"`
	Outputs          []string `json:"outputs,omitempty"`
	StateDir         string   `json:"state_dir"`
}

// summarize logs the crawl's summary and keeps it for Summary.
func (m *Master) summarize(now time.Time, fs frontier.Stats) {
	elapsed := now.Sub(m.started)
	s := Summary{
		Reason: m.endReason, Elapsed: round1(elapsed.Seconds()), Pages: m.stats.results, ByClass: m.stats.classes(),
		Bytes: m.stats.bytes, PeakRate: round1(m.peakRate), Retries: fs.Retried, RobotsDenied: fs.Disallowed, Failed: fs.Failed,
		LeftOut: map[string]int64{
			urlx.ReasonOutOfScope: m.stats.linksLeftOut[urlx.ReasonOutOfScope], urlx.ReasonInvalid: m.stats.linksLeftOut[urlx.ReasonInvalid],
			urlx.ReasonTooLong: m.stats.linksLeftOut[urlx.ReasonTooLong], urlx.ReasonDenied: m.stats.linksLeftOut[urlx.ReasonDenied],
			"too_deep": fs.TooDeep, "over_host_cap": fs.TooMany, "over_page_cap": m.stats.linksCut, "refused_seeds": m.badSeeds,
		},
		SitemapErrors: m.stats.sitemapErrors, RevisitsAdvanced: m.stats.revisitsAdvanced, Queued: fs.Queued, Scheduled: fs.Scheduled, StateDir: m.s.StateDir,
	}
	if elapsed > 0 {
		s.AvgRate = round1(float64(m.stats.results) / elapsed.Seconds())
	}
	if s.Reason == "" {
		s.Reason = "stopped"
	}
	for _, sink := range m.sinks {
		if d, ok := sink.(Destination); ok {
			s.Outputs = append(s.Outputs, d.Destination())
		}
	}
	m.summary = &s
	m.log.Info().Stringer("event", events.CrawlSummary).Interface("summary", s).
		Msgf("crawl summary: %d pages (%s) in %v, %.1f pages/s; ended: %s", s.Pages, megabytes(s.Bytes), elapsed.Round(time.Second), s.AvgRate, s.Reason)
}

// Summary returns the summary of a master that has stopped, or nil.
func (m *Master) Summary() *Summary { return m.summary }

// Table renders the summary for a terminal.
func (s *Summary) Table() string {
	var b strings.Builder
	row := func(name, value string) { fmt.Fprintf(&b, "  %-24s %s\n", name, value) }
	b.WriteString("crawl summary\n")
	row("ended", s.Reason)
	row("elapsed", (time.Duration(s.Elapsed * float64(time.Second))).Round(100*time.Millisecond).String())
	row("pages", fmt.Sprint(s.Pages))
	for _, class := range sortedKeys(s.ByClass) {
		row("  "+class, fmt.Sprint(s.ByClass[class]))
	}
	row("bytes", megabytes(s.Bytes))
	row("pages/s", fmt.Sprintf("%.1f average, %.1f peak (10 s)", s.AvgRate, s.PeakRate))
	row("retries", fmt.Sprint(s.Retries))
	row("failed", fmt.Sprint(s.Failed))
	row("robots.txt refused", fmt.Sprint(s.RobotsDenied))
	var left []string
	for _, reason := range sortedKeys(s.LeftOut) {
		if n := s.LeftOut[reason]; n > 0 {
			left = append(left, fmt.Sprintf("%s %d", reason, n))
		}
	}
	if len(left) == 0 {
		left = []string{"none"}
	}
	row("URLs left out", strings.Join(left, ", "))
	if s.SitemapErrors > 0 || s.RevisitsAdvanced > 0 {
		row("sitemaps", fmt.Sprintf("%d read in part or not at all; %d revisits brought forward by <lastmod>", s.SitemapErrors, s.RevisitsAdvanced))
	}
	row("left in the queue", fmt.Sprintf("%d (%d revisits scheduled)", s.Queued, s.Scheduled))
	if len(s.Outputs) > 0 {
		row("output", strings.Join(s.Outputs, ", "))
	}
	row("state", s.StateDir)
	return b.String()
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// megabytes writes a byte count for a person: MB, or kB below one MB.
func megabytes(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func round1(f float64) float64 { return float64(int64(f*10)) / 10 }
