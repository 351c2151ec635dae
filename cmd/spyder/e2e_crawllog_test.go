// e2e_crawllog_test.go: the crawl log, Heritrix's crawl.log layout, with
// each URL's hop path and via kept across a restart.

package main

import (
	"crypto/sha1"
	"encoding/base32"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crawlLogLine is one line of the crawl log, by field.
type crawlLogLine struct {
	time, status, size, url, hops, via, mime, worker, fetch, digest, source, notes string
}

func readCrawlLog(t *testing.T, path string) []crawlLogLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []crawlLogLine
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) != 12 {
			t.Fatalf("crawl log line of %d fields: %q", len(f), line)
		}
		out = append(out, crawlLogLine{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]})
	}
	return out
}

// TestCrawlLog crawls the test site with redirects returned as results
// (so that their targets are found by an R hop), stopping the master half
// way and starting it again: the crawl log has a line for every result,
// as JSON Lines does; each URL's hop path is its via's plus one hop, and
// the via was crawled before it; seeds have neither; the digest of a page
// is the SHA-1 of its body; times and durations parse.
func TestCrawlLog(t *testing.T) {
	site := startSite(t, 40, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FOLLOW_REDIRECTS=false", "SPYDER_MAX_CLIENTS=2", "SPYDER_MASTER_INFLIGHT_PER_WORKER=2")
	args := []string{"master", "--until-done", "--out", dir + "/out.jsonl", "--output-crawl-log", dir + "/crawl.log"}
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, append(args, "--seeds", seeds)...)
	for deadline := time.Now().Add(20 * time.Second); len(site.Log()) < 30 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w)
	w = start(t, "worker", c.Env, "worker")
	m = start(t, "master", c.Env, args...)
	waitClean(t, m, w)
	checkCrawl(t, site, dir+"/out.jsonl")

	lines := readCrawlLog(t, dir+"/crawl.log")
	if n := len(readJSONL(t, dir+"/out.jsonl")); len(lines) != n {
		t.Fatalf("%d crawl log lines, %d JSON Lines records", len(lines), n)
	}
	byURL := map[string]crawlLogLine{}
	order := map[string]int{}
	for i, l := range lines {
		byURL[l.url], order[l.url] = l, i
	}
	seed := map[string]bool{}
	for _, s := range site.Seeds() {
		seed[s] = true
	}
	redirects, links := 0, 0
	for i, l := range lines {
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", l.time); err != nil {
			t.Errorf("line %d: time %q", i, l.time)
		}
		start, ms, ok := strings.Cut(l.fetch, "+")
		if _, err := time.Parse("20060102150405", start[:min(len(start), 14)]); !ok || err != nil || len(start) != 17 {
			t.Errorf("line %d: fetch %q", i, l.fetch)
		} else if _, err := strconv.Atoi(ms); err != nil {
			t.Errorf("line %d: fetch duration %q", i, l.fetch)
		}
		switch {
		case strings.HasSuffix(l.url, "/robots.txt"):
		case seed[l.url]:
			if l.hops != "-" || l.via != "-" {
				t.Errorf("seed %s: hops %q via %q", l.url, l.hops, l.via)
			}
		default:
			via, ok := byURL[l.via]
			if !ok || order[l.via] > i {
				t.Errorf("%s: via %s, not crawled before it", l.url, l.via)
				continue
			}
			parent := strings.TrimPrefix(via.hops, "-")
			if len(l.hops) != len(parent)+1 || !strings.HasPrefix(l.hops, parent) {
				t.Errorf("%s: hop path %q, its via %s has %q", l.url, l.hops, l.via, via.hops)
			}
			switch last := l.hops[len(l.hops)-1]; {
			case last == 'R' && strings.HasPrefix(via.status, "3"):
				redirects++
			case last == 'L' && via.status == "200":
				links++
			default:
				t.Errorf("%s: hop %q from a %s", l.url, l.hops, via.status)
			}
		}
		if l.status == "200" && !strings.HasSuffix(l.url, "/robots.txt") {
			resp, err := http.Get(l.url)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sum := sha1.Sum(body)
			if want := "sha1:" + base32.StdEncoding.EncodeToString(sum[:]); l.digest != want || l.size != strconv.Itoa(len(body)) || l.mime != "text/html" {
				t.Errorf("%s: digest %s, size %s, type %s; the page is %s, %d bytes", l.url, l.digest, l.size, l.mime, want, len(body))
			}
		}
	}
	if redirects == 0 || links < 20 {
		t.Errorf("%d redirect hops and %d link hops checked", redirects, links)
	}
}
