// e2e_robots_test.go: robots.txt end to end, and an unreachable host reported.

package main

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

// siteRobots gives spyder its own group: pages 1 and 10-19 are off limits
// except page 10 exactly ("$": not with a query), and so is every link
// with a query string (a longer Allow would win over "/*?"); the group for
// everyone else would forbid the whole site, so obeying the wrong group
// fetches nothing. Crawl-delay is 0.3 s.
const siteRobots = `# test site
User-agent: *
Disallow: /

User-agent: otherbot
User-agent: spyder
Disallow: /page/1
Allow: /page/10.html$
Disallow: /*?
Crawl-delay: 0.3
`

// TestRobotsTxtEndToEnd crawls two hosts that serve siteRobots, with no
// delay of our own, and audits the servers' logs: each host's robots.txt
// is its first request; no disallowed path is ever requested (checked by
// prefix, not by our parser); two requests to one host are never closer
// than the Crawl-delay; the disallowed URLs are in the output with status
// 910, and the master counts them.
func TestRobotsTxtEndToEnd(t *testing.T) {
	site, err := testsite.Start(testsite.Options{IPs: []string{"127.0.0.2", "127.0.0.3"}, OffsiteIP: "127.0.0.9", Pages: 24, RobotsTxt: siteRobots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	disallowed := site.Disallowed()
	if len(disallowed) < 10 {
		t.Fatalf("the site's links reach only %d disallowed URLs: %v", len(disallowed), disallowed)
	}
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_FRONTIER_MIN_DELAY=0", "SPYDER_FRONTIER_CRAWL_DELAY_FACTOR=0")
	w1, w2 := start(t, "w1", c.Env, "worker"), start(t, "w2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", dir+"/out.jsonl")
	resumeWith(t, c, 2)
	waitClean(t, m, w1, w2)
	checkCrawl(t, site, dir+"/out.jsonl")

	byHost := map[string][]testsite.Request{}
	for _, r := range site.Log() {
		byHost[r.Host] = append(byHost[r.Host], r)
		path := r.Path
		if strings.Contains(path, "?") || (strings.HasPrefix(path, "/page/1") && path != "/page/10.html") {
			t.Errorf("disallowed path requested: %s%s", r.Host, path)
		}
	}
	if len(byHost) != 2 {
		t.Fatalf("requests reached %d hosts, want 2", len(byHost))
	}
	const crawlDelay = 300 * time.Millisecond
	for host, reqs := range byHost {
		sort.Slice(reqs, func(i, j int) bool { return reqs[i].At.Before(reqs[j].At) })
		if reqs[0].Path != "/robots.txt" {
			t.Errorf("%s: first request %s, want /robots.txt", host, reqs[0].Path)
		}
		for i := 1; i < len(reqs); i++ {
			if gap := reqs[i].At.Sub(reqs[i-1].At); gap < crawlDelay {
				t.Errorf("%s: %s and %s %v apart (Crawl-delay %v)", host, reqs[i-1].Path, reqs[i].Path, gap, crawlDelay)
			}
		}
		if len(reqs) < 10 {
			t.Errorf("%s: only %d requests", host, len(reqs))
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["disallowed"] != float64(len(disallowed)) {
		t.Fatalf("master's count of disallowed URLs: %v, want %d", down, len(disallowed))
	}
}

// TestUnreachableHostIsReported: a seed whose host refuses connections.
// Its robots.txt cannot be fetched; the master warns with the error and
// when it tries again, and the progress line counts the host as waiting,
// instead of showing done=0 and nothing else.
func TestUnreachableHostIsReported(t *testing.T) {
	dead := testsite.FreeEndpoints(t, 1)[0] // tcp://127.0.0.1:PORT, nothing listening
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", "http://"+strings.TrimPrefix(dead, "tcp://")+"/\n")
	c := newCluster(t, "SPYDER_FRONTIER_RETRY_BACKOFF=30", "SPYDER_FRONTIER_CLASS=multiple_host")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds)
	warned := m.WaitFor(t, "a warning about the host", 30*time.Second, func(r map[string]any) bool {
		msg, _ := r["message"].(string)
		return strings.Contains(msg, "robots.txt unreachable")
	})
	if warned["level"] != "warn" || !strings.Contains(fmt.Sprint(warned["error"]), "connection refused") || warned["retry_in"] != "30s" || warned["retry_at"] == nil {
		t.Fatalf("the warning: %v", warned)
	}
	m.WaitFor(t, "a progress line counting the waiting host", 10*time.Second, func(r map[string]any) bool {
		msg, _ := r["message"].(string)
		return r["event"] == "progress" && r["hosts_held"] == float64(1) && strings.Contains(msg, "1 hosts waiting")
	})
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w)
}
