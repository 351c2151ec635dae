// e2e_kill_test.go: kill -9 of the master or a worker loses no URL; URLs a stranger takes come back.

package main

import (
	"math/rand"
	"strings"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/internal/events"
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
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")

	const kills = 10
	killMasters(t, c, kills, 100*time.Millisecond, "--seeds", seeds, "--out", out)
	// The last master finishes the crawl with both workers (either could
	// otherwise reconnect after a short remainder was over).
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
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

// killMasters starts a master of the crawl (master --until-done with
// args) kills times, each killed with SIGKILL at a random moment from
// after to after+0.5 s after it is ready.
func killMasters(t *testing.T, c *cluster, kills int, after time.Duration, args ...string) {
	t.Helper()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i := 0; i < kills; i++ {
		m := start(t, "master", c.Env, append([]string{"master", "--until-done"}, args...)...)
		m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
		time.Sleep(after + time.Duration(rng.Intn(500))*time.Millisecond)
		select {
		case <-m.Done():
			t.Fatalf("the crawl ended after %d kills; the site is too small for the test", i)
		default:
		}
		m.Signal(syscall.SIGKILL)
		m.Wait(t, 10*time.Second)
	}
}

// TestWorkerKill9IsRecoveredByHeartbeats kills one of three workers with
// SIGKILL mid-crawl. Leases last a minute, so only the heartbeat path can
// bring its URLs back quickly: the master must declare it lost and queue
// its URLs again within 3 s, and the crawl completes with nothing missing.
func TestWorkerKill9IsRecoveredByHeartbeats(t *testing.T) {
	// 600 pages at 200 ms each: the crawl goes on for 10 s or more after
	// the kill, so URLs sent to the back of the queue would be fetched
	// again only near its end.
	site := startSite(t, 300, 200*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_HEARTBEAT_INTERVAL=0.5", "SPYDER_MASTER_LEASE_TIMEOUT=60", "SPYDER_REQUEST_TIMEOUT=10", "SPYDER_MAX_CLIENTS=4")
	var workers []*proc
	for _, name := range []string{"worker1", "worker2", "worker3"} {
		w := start(t, name, c.Env, "worker")
		w.WaitFor(t, "WORKER_STARTED", 20*time.Second, event(events.WorkerStarted))
		workers = append(workers, w)
	}
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", out)
	m.WaitFor(t, "mid-crawl", 30*time.Second, func(r map[string]any) bool {
		done, _ := r["done"].(float64)
		return r["event"] == "progress" && done >= 40 && r["workers"] == float64(3)
	})
	killed := time.Now()
	workers[0].Signal(syscall.SIGKILL)
	workers[0].Wait(t, 5*time.Second)
	lost := m.WaitFor(t, "worker.lost", 10*time.Second, event("worker.lost"))
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
	finished := time.Now()
	if finished.Sub(killed) > 50*time.Second {
		t.Fatalf("the crawl needed %v after the kill: URLs waited for their leases", finished.Sub(killed))
	}
	// The killed worker's URLs go back ahead of the queue: each is
	// requested within 5 s of the kill, not at the end of the crawl.
	released, _ := lost["urls"].([]any)
	if len(released) == 0 {
		t.Fatalf("the lost record names no URLs: %v", lost)
	}
	requested := map[string]time.Time{}
	for _, r := range site.Log() {
		u := "http://" + r.Host + r.Path
		if r.At.After(killed) && requested[u].IsZero() {
			requested[u] = r.At
		}
	}
	for _, u := range released {
		at, ok := requested[u.(string)]
		switch {
		case !ok:
			t.Errorf("%s, released from the killed worker, was not requested after the kill", u)
		case at.Sub(killed) > 5*time.Second:
			t.Errorf("%s, released from the killed worker, was requested again %v after the kill (the crawl ended %v after it)", u, at.Sub(killed).Round(time.Millisecond), finished.Sub(killed).Round(time.Millisecond))
		}
	}
	// Everything was fetched; pages the killed worker had in flight may
	// have been fetched twice.
	counts := site.Counts()
	for _, u := range site.Expected() {
		if counts[u] == 0 {
			t.Errorf("never fetched: %s", u)
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["expired"].(float64) != 0 {
		t.Fatalf("URLs had to wait for their lease: %v", down)
	}
}

// TestURLsTakenByAStrangerComeBackWithinHeartbeats: a PULL socket
// connected to the master's PUSH that never announces takes its share of
// the URLs and drops them. No live worker lists them, so the master queues
// them again two heartbeats after their dispatch, not after
// master_lease_timeout (90 s): the crawl ends in seconds, and no lease
// expired.
func TestURLsTakenByAStrangerComeBackWithinHeartbeats(t *testing.T) {
	site := startSite(t, 30, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_MASTER_LEASE_TIMEOUT=90", "SPYDER_REQUEST_TIMEOUT=10")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	m.WaitFor(t, "master started", 20*time.Second, event(events.MasterReady))

	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	stranger, err := zctx.NewSocket(zmq.PULL)
	if err != nil {
		t.Fatal(err)
	}
	_ = stranger.SetLinger(0)
	_ = stranger.SetRcvtimeo(100 * time.Millisecond)
	if err := stranger.Connect(c.Push); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	taken := make(chan int)
	go func() {
		n := 0
		defer func() { stranger.Close(); taken <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := stranger.RecvMessageBytes(0); err == nil {
				n++
			}
		}
	}()
	w := start(t, "worker", c.Env, "worker")
	resumeWith(t, c, 1)
	began := time.Now()
	if code := m.Wait(t, 80*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	took := time.Since(began)
	close(stop)
	n := <-taken
	if code := w.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("worker exit code %d", code)
	}
	if n == 0 {
		t.Fatal("the stranger took no URL: the test tested nothing")
	}
	checkNothingLost(t, site, out, n)
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["expired"].(float64) != 0 || down[0]["unclaimed"].(float64) < float64(n) {
		t.Fatalf("the stranger took %d URLs; master's counts: %v", n, down)
	}
	if took > 60*time.Second {
		t.Errorf("the crawl took %v: the stranger's URLs waited for their leases", took)
	}
	t.Logf("the stranger took %d URLs; the crawl took %v", n, took.Round(time.Millisecond))
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
