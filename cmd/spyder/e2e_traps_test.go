// e2e_traps_test.go: crawler traps bounded by max_depth and max_url_length; pages behind repeated links crawled.

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spyder-crawl/spyder/internal/events"
)

// TestCrawlerTrapsAreBounded crawls a site of traps: an endless calendar
// (every month links the next and the previous one) and a page whose link
// grows its query string at every visit. max_depth and max_url_length end
// both: the crawl finishes by itself, no URL longer than the limit is
// requested, the calendar is walked no further than max_depth months from
// its entry, and the master counts what it dropped.
func TestCrawlerTrapsAreBounded(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		switch {
		case r.URL.Path == "/":
			fmt.Fprint(w, `<a href="/cal/2026/1">calendar</a> <a href="/grow?q=a">search</a>`)
		case strings.HasPrefix(r.URL.Path, "/cal/"):
			var y, m int
			fmt.Sscanf(r.URL.Path, "/cal/%d/%d", &y, &m)
			next, prev := y*12+m, y*12+m-2 // months since year 0, the next and previous one
			fmt.Fprintf(w, `<a href="/cal/%d/%d">next</a> <a href="/cal/%d/%d">previous</a>`, next/12, next%12+1, prev/12, prev%12+1)
		case r.URL.Path == "/grow":
			fmt.Fprintf(w, `<a href="/grow?q=%s">more</a>`, r.URL.Query().Get("q")+strings.Repeat("ab", 10))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", srv.URL+"/\n")
	c := newCluster(t, "SPYDER_MAX_DEPTH=12", "SPYDER_MAX_URL_LENGTH=120")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds)
	waitClean(t, m, w)

	// requested returns the request URIs since the last call.
	requested := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := paths
		paths = nil
		return out
	}
	months, first := 0, requested()
	for _, p := range first {
		if len(srv.URL+p) > 120 {
			t.Errorf("requested a URL of %d bytes: %s", len(srv.URL+p), p)
		}
		if strings.HasPrefix(p, "/cal/") {
			months++
		}
	}
	// The calendar is entered at depth 1; depth 12 reaches 11 months either way.
	if months != 23 {
		t.Errorf("%d calendar pages fetched, want 23 (11 months before and after the first)", months)
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["links_too_long"].(float64) < 1 || down[0]["links_too_deep"].(float64) < 1 {
		t.Fatalf("master's counts: %v", down)
	}
	// The summary record: one JSON record with what the crawl did.
	sums := m.Find(event(events.CrawlSummary))
	if len(sums) != 1 {
		t.Fatalf("%d summary records", len(sums))
	}
	sum := sums[0]["summary"].(map[string]any)
	leftOut := sum["left_out"].(map[string]any)
	if sum["reason"] != "crawl finished (--until-done)" || sum["pages"].(float64) != down[0]["results"].(float64) ||
		leftOut["too_long"].(float64) < 1 || leftOut["too_deep"].(float64) < 1 || sum["bytes"].(float64) <= 0 {
		t.Fatalf("summary: %v", sum)
	}
	t.Logf("%d requests, %d calendar pages, %v links too long, %v too deep", len(first), months, down[0]["links_too_long"], down[0]["links_too_deep"])

	// The per-host cap: at most 10 URLs of the host, whatever the depth.
	c2 := newCluster(t, "SPYDER_MAX_URLS_PER_HOST=10")
	w2 := start(t, "worker2", c2.Env, "worker")
	m2 := start(t, "master2", c2.Env, "master", "--until-done", "--seeds", seeds)
	waitClean(t, m2, w2)
	pages := 0
	for _, p := range requested() {
		if p != "/robots.txt" {
			pages++
		}
	}
	if pages != 10 {
		t.Errorf("%d pages of the host fetched, want max_urls_per_host = 10", pages)
	}
	if down := m2.Find(event(events.MasterDown)); len(down) != 1 || down[0]["links_over_host_cap"].(float64) < 1 {
		t.Fatalf("master's counts: %v", down)
	}

	// max_url_length is the only bound on length: at 3,000 the growing
	// URL is followed past 2,048 bytes (a constant of 2,048 once refused
	// those as invalid whatever the setting said) and stops at 3,000.
	growSeed := writeFile(t, dir, "grow.txt", srv.URL+"/grow?q=a\n")
	c3 := newCluster(t, "SPYDER_MAX_URL_LENGTH=3000", "SPYDER_MAX_DEPTH=1000")
	w3 := start(t, "worker3", c3.Env, "worker")
	m3 := start(t, "master3", c3.Env, "master", "--until-done", "--seeds", growSeed)
	waitClean(t, m3, w3)
	longest := 0
	for _, p := range requested() {
		longest = max(longest, len(srv.URL+p))
	}
	if longest <= 2048 || longest > 3000 {
		t.Errorf("the longest URL requested has %d bytes; want more than 2,048 and at most max_url_length = 3,000", longest)
	}
	down = m3.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["links_too_long"].(float64) < 1 {
		t.Fatalf("master's counts: %v", down)
	}
}

// TestPagesBehindRepeatedLinksAreCrawled: a page with 15,000 links of
// which 500 are distinct, the last distinct one only at its very end. The
// worker sends each link once (the JSONL record of the page counts 500),
// max_links_per_page (10,000) bounds distinct links, and so the page
// linked only from the last distinct link is crawled.
func TestPagesBehindRepeatedLinksAreCrawled(t *testing.T) {
	var mu sync.Mutex
	fetched := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetched[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		switch {
		case r.URL.Path == "/":
			var b strings.Builder
			for i := 0; i < 14999; i++ {
				fmt.Fprintf(&b, "<a href=\"/p/%d\">%d</a>\n", i%499, i)
			}
			b.WriteString(`<a href="/p/last">the last one</a>`)
			fmt.Fprint(w, b.String())
		case r.URL.Path == "/p/last":
			fmt.Fprint(w, `<a href="/hidden">only linked from here</a>`)
		case strings.HasPrefix(r.URL.Path, "/p/"), r.URL.Path == "/hidden":
			fmt.Fprint(w, `<p>a page</p>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", srv.URL+"/\n")
	out := filepath.Join(dir, "out.jsonl")
	c := newCluster(t, "SPYDER_FRONTIER_CLASS=multiple_host")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", out)
	waitClean(t, m, w)

	mu.Lock()
	defer mu.Unlock()
	if fetched["/hidden"] != 1 || fetched["/p/last"] != 1 {
		t.Fatalf("/p/last fetched %d times, /hidden %d times; want once each", fetched["/p/last"], fetched["/hidden"])
	}
	for _, rec := range readJSONL(t, out) {
		if rec["url"] == srv.URL+"/" && rec["links"].(float64) != 500 {
			t.Errorf("the page's record counts %v links; the worker should send its 500 distinct links", rec["links"])
		}
	}
	if down := m.Find(event(events.MasterDown)); len(down) != 1 || down[0]["links_over_page_cap"] != nil && down[0]["links_over_page_cap"].(float64) != 0 {
		t.Fatalf("master's counts: %v", down)
	}
}
