// e2e_migrate_test.go: spyder frontier migrate with real processes: a
// crawl stopped on Pebble goes on in Redis, and from there back on
// Pebble, fetching nothing twice that was done before.

package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/redistest"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

// migrateRobots rules out every page whose number starts with 1: links
// the crawl records as disallowed without a fetch (status 910).
const migrateRobots = "User-agent: *\nDisallow: /page/1\n"

// TestMigrateAStoppedCrawlToRedisAndBack crawls part of a site of four
// hosts with one master on Pebble, stops it, migrates the state directory
// into a Redis Cluster, goes on there with a master on Redis, stops it,
// migrates the crawl back into a new state directory and finishes there.
// The sites' logs show every page fetched, each robots.txt once (the
// rules moved with the crawl), nothing disallowed, and no page that one
// stage had done (in its output) fetched again by a later one.
func TestMigrateAStoppedCrawlToRedisAndBack(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site, err := testsite.Start(testsite.Options{IPs: []string{"127.0.0.30", "127.0.0.31", "127.0.0.32", "127.0.0.33"},
		OffsiteIP: "127.0.0.9", Pages: 300, Delay: 4 * time.Millisecond, RobotsTxt: migrateRobots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	pebbleDir, backDir := dir+"/state", dir+"/state-back"
	common := []string{"SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_MAX_CLIENTS=4"}
	redisSide := []string{"SPYDER_FRONTIER_REDIS_ADDRS=" + rc.Addrs()[0], "SPYDER_FRONTIER_REDIS_PARTITIONS=64",
		"SPYDER_FRONTIER_REDIS_CRAWL=moved", "SPYDER_FRONTIER_REDIS_OWNERSHIP_TTL=1.2"}

	// Stage 1: one master on Pebble, stopped part of the way.
	c1 := newCluster(t, append(common, "SPYDER_STATE_DIR="+pebbleDir)...)
	out1 := dir + "/stage1.jsonl"
	doneBefore := crawlPart(t, site, c1, out1, 120, "--seeds", seeds)

	// Into Redis (the settings name the Redis crawl; frontier_store may
	// still say pebble).
	migrate(t, c1.Env, redisSide, "--to", "redis", "--dir", pebbleDir)
	// A second migration into the same crawl is refused: it exists.
	if out, err := migrateCmd(c1.Env, redisSide, "--to", "redis", "--dir", pebbleDir).CombinedOutput(); err == nil || !strings.Contains(string(out), `crawl "moved" exists`) {
		t.Fatalf("migrating into an existing crawl: %v\n%s", err, out)
	}

	// Stage 2: a master on Redis goes on from there, and is stopped too.
	c2 := newCluster(t, append(append(common, "SPYDER_FRONTIER_STORE=redis", "SPYDER_STATE_DIR="), redisSide...)...)
	out2 := dir + "/stage2.jsonl"
	doneInRedis := crawlPart(t, site, c2, out2, doneBefore.count+150)
	checkNotRefetched(t, site, doneBefore, "stage 2 (Redis)")

	// Back into a new state directory, where the crawl finishes.
	if out := migrate(t, c2.Env, nil, "--to", "pebble", "--dir", backDir); strings.Contains(out, ": 0 queued") {
		t.Fatalf("stage 2 left nothing for stage 3 (the site is too small for the stages' thresholds): %s", out)
	}
	c3 := newCluster(t, append(common, "SPYDER_STATE_DIR="+backDir)...)
	out3 := dir + "/stage3.jsonl"
	m := start(t, "master3", c3.Env, "master", "--until-done", "--out", out3)
	w := []*proc{start(t, "worker3a", c3.Env, "worker"), start(t, "worker3b", c3.Env, "worker")}
	waitClean(t, m, w...)
	checkNotRefetched(t, site, doneBefore, "stage 3 (Pebble again)")
	checkNotRefetched(t, site, doneInRedis, "stage 3 (Pebble again)")

	counts := site.Counts()
	for _, u := range site.Expected() {
		if counts[u] == 0 {
			t.Errorf("never fetched: %s", u)
		}
		if strings.HasSuffix(u, "/robots.txt") && counts[u] != 1 {
			t.Errorf("%s fetched %d times: the rules did not move with the crawl", u, counts[u])
		}
	}
	for u := range counts {
		if strings.Contains(u, "/page/1") {
			t.Errorf("disallowed by robots.txt, fetched: %s", u)
		}
	}
	recorded := map[string]bool{}
	for _, out := range []string{out1, out2, out3} {
		for _, r := range readJSONL(t, out) {
			recorded[r["url"].(string)] = true
		}
	}
	for _, u := range site.Expected() {
		if !strings.HasSuffix(u, "/robots.txt") && !recorded[u] {
			t.Errorf("in no stage's output: %s", u)
		}
	}
	for _, u := range site.Disallowed() {
		if !recorded[u] {
			t.Errorf("disallowed URL in no stage's output: %s", u)
		}
	}
}

// stageDone is what one stage of a crawl recorded as done, and the site's
// request counts when it stopped.
type stageDone struct {
	urls   map[string]bool
	counts map[string]int
	count  int // results the crawl had counted done by then
}

// crawlPart runs a master (with args) and two workers until the crawl
// has counted at least done results, then stops all three with SIGTERM.
func crawlPart(t *testing.T, site *testsite.Site, c *cluster, out string, done int, args ...string) stageDone {
	t.Helper()
	m := start(t, "master", c.Env, append([]string{"master", "--paused", "--out", out}, args...)...)
	w := []*proc{start(t, "worker1", c.Env, "worker"), start(t, "worker2", c.Env, "worker")}
	resumeWith(t, c, 2)
	var count int
	m.WaitFor(t, "progress", 60*time.Second, func(r map[string]any) bool {
		n, _ := r["done"].(float64)
		count = int(n)
		return r["event"] == "progress" && count >= done
	})
	m.Signal(syscall.SIGTERM)
	if code := m.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("master exit code %d after SIGTERM", code)
	}
	for _, p := range w {
		p.Signal(syscall.SIGTERM)
		if code := p.Wait(t, 20*time.Second); code != 0 {
			t.Fatalf("%s exit code %d", p.Name(), code)
		}
	}
	s := stageDone{urls: map[string]bool{}, count: count}
	for _, r := range readJSONL(t, out) {
		s.urls[r["url"].(string)] = true
	}
	if len(s.urls) == 0 {
		t.Fatalf("the stage recorded nothing in %s", out)
	}
	s.counts = site.Counts() // (the stage is over: nothing of it is in flight)
	return s
}

// checkNotRefetched fails for each URL done by an earlier stage (in its
// output) that was requested again since.
func checkNotRefetched(t *testing.T, site *testsite.Site, before stageDone, stage string) {
	t.Helper()
	now := site.Counts()
	for u := range before.urls {
		if now[u] != before.counts[u] {
			t.Errorf("%s: %s was done before and fetched again (%d requests, %d then)", stage, u, now[u], before.counts[u])
		}
	}
}

func migrateCmd(env, extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command(spyderBin, append([]string{"frontier", "migrate"}, args...)...)
	cmd.Env = append(append([]string{}, env...), extra...)
	return cmd
}

// migrate runs spyder frontier migrate, checks it says what it moved, and
// returns what it said.
func migrate(t *testing.T, env, extra []string, args ...string) string {
	t.Helper()
	out, err := migrateCmd(env, extra, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "migrated ") {
		t.Fatalf("frontier migrate %v: %v\n%s", args, err, out)
	}
	t.Logf("%s", out)
	return string(out)
}
