package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// The Colly crawler runs as this binary in a child process (PEERS_ROLE).
func TestMain(m *testing.M) {
	if os.Getenv("PEERS_ROLE") == "colly" {
		os.Exit(runColly(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestSmallRound runs the harness as BENCHMARKS.md does, on a small site:
// every crawler fetches every page of both sites and nothing else (read
// from nginx's log), spyder, Colly with the fix and wget fetch no page
// twice (Scrapy its seeds, by design), nobody breaks the politeness delay by more than the log's
// resolution but Scrapy (measured, not asserted), and the tables print.
func TestSmallRound(t *testing.T) {
	o, err := parseOptions([]string{"-rounds", "1", "-hosts", "3", "-pages", "60", "-polite-hosts", "3", "-polite-pages", "6",
		"-polite-delay", "150ms", "-timeout", "3m"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHarness(o, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	rep, err := h.runAll()
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.problems(); len(p) > 0 {
		t.Fatalf("crawls that did not fetch the site: %v", p)
	}
	if len(rep.runs) != len(crawlers) {
		t.Fatalf("%d throughput runs, want one per crawler (%d)", len(rep.runs), len(crawlers))
	}
	for _, r := range rep.runs {
		if r.pages != 180 {
			t.Errorf("%s fetched %d pages, want 180", r.crawler, r.pages)
		}
		if r.cpu <= 0 || r.wall <= 0 || r.peakRSS <= 0 {
			t.Errorf("%s: nothing measured: %+v", r.crawler, r.usage)
		}
		switch r.crawler {
		case "spyder", "spyder-warc", "colly", "wget":
			if r.duplicates != 0 {
				t.Errorf("%s fetched %d pages twice", r.crawler, r.duplicates)
			}
		case "scrapy":
			// Scrapy fetches its start URLs with dont_filter (its default
			// start_requests), so a seed linked from a page comes again.
			if r.duplicates > 3 {
				t.Errorf("scrapy fetched %d pages twice, more than its 3 seeds", r.duplicates)
			}
		}
	}
	for _, r := range rep.politeRuns {
		if r.crawler != "scrapy" && r.violations > 0 {
			t.Errorf("%s: %d gaps under the delay (smallest %s)", r.crawler, r.violations, r.minGap)
		}
		if r.ideal < 5*150*time.Millisecond {
			t.Errorf("%s: ideal %s: fewer than the 6 pages of a host one delay apart", r.crawler, r.ideal)
		}
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []string{"| spyder | 1 |", "| colly-documented | 1 |", "| wget | 1 |", "spyder / colly:", "| spyder | ", "Politeness: 18 pages on 3 hosts"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseLogLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want request
		bad  bool
	}{
		{line: `1764790000.250 0.050 127.0.1.2 200 17000 "/p/3.html"`,
			want: request{start: time.UnixMilli(1764790000200), addr: "127.0.1.2", status: 200, bytes: 17000, uri: "/p/3.html"}},
		{line: `1764790000.250 0.000 127.0.2.1 404 153 "/robots.txt?x=a b"`,
			want: request{start: time.UnixMilli(1764790000250), addr: "127.0.2.1", status: 404, bytes: 153, uri: "/robots.txt?x=a b"}},
		{line: `1764790000.250 - 127.0.2.1 404 153 "/"`, bad: true},
		{line: `garbage`, bad: true},
	} {
		got, err := parseLogLine([]byte(tc.line))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.line)
			}
			continue
		}
		if err != nil || !got.start.Equal(tc.want.start) || got.addr != tc.want.addr || got.status != tc.want.status ||
			got.bytes != tc.want.bytes || got.uri != tc.want.uri {
			t.Errorf("%q: got %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

// TestAnalyseGaps: gaps are per host, between request starts, and one
// shorter than the delay by more than the log's resolution is counted.
func TestAnalyseGaps(t *testing.T) {
	s := &site{addrs: []string{"127.0.2.1", "127.0.2.2"}, pages: 2}
	t0 := time.UnixMilli(1_000_000)
	at := func(ms int, addr, uri string) request {
		return request{start: t0.Add(time.Duration(ms) * time.Millisecond), addr: addr, status: 200, uri: uri}
	}
	reqs := []request{
		at(0, "127.0.2.1", "/robots.txt"), at(10, "127.0.2.2", "/robots.txt"),
		at(250, "127.0.2.1", "/"), at(259, "127.0.2.2", "/"), // 249 ms: within the resolution
		at(499, "127.0.2.1", "/p/1.html"), // 249 ms
		at(400, "127.0.2.2", "/p/1.html"), // 141 ms: under
		at(500, "127.0.2.2", "/p/1.html"), // a duplicate, 100 ms: under
		at(600, "127.0.9.9", "/"),         // another site's
	}
	r := analyse("x", s, 250*time.Millisecond, usage{start: t0.Add(-5 * time.Millisecond)}, reqs)
	if r.requests != 7 || r.pages != 4 || r.duplicates != 1 || len(r.missing) != 0 {
		t.Errorf("requests %d pages %d duplicates %d missing %v", r.requests, r.pages, r.duplicates, r.missing)
	}
	if r.violations != 2 || r.minGap != 100*time.Millisecond {
		t.Errorf("violations %d, smallest gap %s; want 2, 100ms", r.violations, r.minGap)
	}
	if r.ideal != 3*250*time.Millisecond || r.firstAfter != 5*time.Millisecond {
		t.Errorf("ideal %s first %s", r.ideal, r.firstAfter)
	}
}
