package main

import (
	"math/rand"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// TestMasterKill9LosesNothing kills the master with SIGKILL at random
// moments, ten times, restarting it on the same state directory each time,
// while two workers keep running. At the end every reachable page has been
// fetched, no page more often than once plus the re-dispatches of what was
// in flight at a kill, and the JSONL output lists every page.
func TestMasterKill9LosesNothing(t *testing.T) {
	site := startSiteOn(t, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, 500, 5*time.Millisecond)
	expected := site.Expected()
	if len(expected) < 2000 {
		t.Fatalf("site too small: %d", len(expected))
	}
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	const perWorker = 10
	c := newCluster(t, "SPYDER_MASTER_INFLIGHT_PER_WORKER=10", "SPYDER_MAX_CLIENTS=5")
	w1 := start(t, "worker1", c.env, "worker")
	w2 := start(t, "worker2", c.env, "worker")

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const kills = 10
	for i := 0; i < kills; i++ {
		m := start(t, "master", c.env, "master", "--until-done", "--seeds", seeds, "--out", out)
		m.waitFor(t, "MASTER_READY", 20*time.Second, event("SPYDER:MASTER_READY"))
		time.Sleep(time.Duration(100+rng.Intn(500)) * time.Millisecond)
		select {
		case <-m.done:
			t.Fatalf("the crawl ended after %d kills; the site is too small for the test", i)
		default:
		}
		m.signal(syscall.SIGKILL)
		m.wait(t, 10*time.Second)
	}
	// The last master finishes the crawl with both workers (either could
	// otherwise reconnect after a short remainder was over).
	m := start(t, "master", c.env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	resumeWith(t, c, 2)
	waitClean(t, m, w1, w2)

	// What was in flight at a kill is fetched again: at most the credit
	// (workers x master_inflight_per_worker), plus the URLs whose results
	// were applied in the last loop turn but whose group commit had not
	// reached the disk (its fsync overlaps the next turn; at most the
	// credit again).
	extra := checkNothingLost(t, site, out, kills*2*(2*perWorker))
	t.Logf("%d URLs, %d kills, %d repeated fetches", len(expected), kills, extra)
}

// TestWorkerKill9IsRecoveredByHeartbeats kills one of three workers with
// SIGKILL mid-crawl. Leases last a minute, so only the heartbeat path can
// bring its URLs back quickly: the master must declare it lost and queue
// its URLs again within 3 s, and the crawl completes with nothing missing.
func TestWorkerKill9IsRecoveredByHeartbeats(t *testing.T) {
	site := startSite(t, 150, 50*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_HEARTBEAT_INTERVAL=0.5", "SPYDER_MASTER_LEASE_TIMEOUT=60", "SPYDER_REQUEST_TIMEOUT=10", "SPYDER_MAX_CLIENTS=4")
	var workers []*proc
	for _, name := range []string{"worker1", "worker2", "worker3"} {
		w := start(t, name, c.env, "worker")
		w.waitFor(t, "WORKER_READY", 20*time.Second, event("SPYDER:WORKER_READY"))
		workers = append(workers, w)
	}
	m := start(t, "master", c.env, "master", "--until-done", "--seeds", seeds, "--out", out)
	m.waitFor(t, "mid-crawl", 30*time.Second, func(r map[string]any) bool {
		done, _ := r["done"].(float64)
		return r["event"] == "progress" && done >= 40 && r["workers"] == float64(3)
	})
	killed := time.Now()
	workers[0].signal(syscall.SIGKILL)
	workers[0].wait(t, 5*time.Second)
	lost := m.waitFor(t, "worker.lost", 10*time.Second, event("worker.lost"))
	at, err := time.Parse(time.RFC3339, lost["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if took := at.Sub(killed.Truncate(time.Second)); took > 4*time.Second { // log times have whole seconds
		t.Errorf("worker declared lost %v after the kill", took)
	}
	if n, _ := lost["released"].(float64); n < 1 {
		t.Errorf("no URLs released from the killed worker: %v", lost)
	}
	t.Logf("lost record: released %v, %v after the kill", lost["released"], at.Sub(killed.Truncate(time.Second)))
	waitClean(t, m, workers[1:]...)
	if time.Since(killed) > 50*time.Second {
		t.Fatalf("the crawl needed %v after the kill: URLs waited for their leases", time.Since(killed))
	}
	// Everything was fetched; pages the killed worker had in flight may
	// have been fetched twice.
	counts := site.Counts()
	for _, u := range site.Expected() {
		if counts[u] == 0 {
			t.Errorf("never fetched: %s", u)
		}
	}
	down := m.find(event("SPYDER:MASTER_DOWN"))
	if len(down) != 1 || down[0]["expired"].(float64) != 0 {
		t.Fatalf("URLs had to wait for their lease: %v", down)
	}
}

// checkNothingLost asserts that every expected URL was fetched and is in
// the JSONL output, nothing else was fetched, and at most limit fetches
// were repeats (what was in flight at a failure); it returns the repeats.
func checkNothingLost(t *testing.T, site *testsite.Site, out string, limit int) int {
	t.Helper()
	expected, counts := site.Expected(), site.Counts()
	extra := 0
	for _, u := range expected {
		switch n := counts[u]; {
		case n == 0:
			t.Errorf("never fetched: %s", u)
		case n > 1:
			extra += n - 1
		}
	}
	if len(counts) != len(expected) {
		t.Errorf("%d distinct URLs fetched, %d expected", len(counts), len(expected))
	}
	if extra > limit {
		t.Errorf("%d repeated fetches, more than the %d URLs that can have been in flight", extra, limit)
	}
	listed := map[string]bool{}
	for _, r := range readJSONL(t, out) {
		listed[r["url"].(string)] = true
	}
	for _, u := range expected {
		if !listed[u] {
			t.Errorf("not in the JSONL output: %s", u)
		}
	}
	return extra
}
