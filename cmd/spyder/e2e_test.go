// e2e_test.go: the crawl end to end: a local site, shutdown by signal, start order, a worker stopped mid-crawl.

package main

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

// startSite serves a two-host test site (127.0.0.2, 127.0.0.3).
func startSite(t *testing.T, pages int, delay time.Duration) *testsite.Site {
	return startSiteOn(t, []string{"127.0.0.2", "127.0.0.3"}, pages, delay)
}

// startSiteOn serves a test site on the given loopback addresses, with
// its off-scope host on 127.0.0.9, stopped when the test ends.
func startSiteOn(t *testing.T, ips []string, pages int, delay time.Duration) *testsite.Site {
	t.Helper()
	site, err := testsite.Start(testsite.Options{
		IPs:       ips,
		OffsiteIP: "127.0.0.9",
		Pages:     pages,
		Delay:     delay,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	return site
}

// checkCrawl asserts that the site's own request log shows every expected
// URL fetched exactly once, nothing else (in particular nothing off scope),
// and that the JSONL output lists every expected URL once.
func checkCrawl(t *testing.T, site *testsite.Site, outPath string) {
	t.Helper()
	expected := site.Expected()
	counts := site.Counts()
	var missing, repeated, unexpected []string
	want := map[string]bool{}
	for _, u := range expected {
		want[u] = true
		switch n := counts[u]; {
		case n == 0:
			missing = append(missing, u)
		case n > 1:
			repeated = append(repeated, fmt.Sprintf("%s x%d", u, n))
		}
	}
	for u := range counts {
		if !want[u] {
			unexpected = append(unexpected, u)
		}
	}
	sort.Strings(unexpected)
	if len(missing)+len(repeated)+len(unexpected) > 0 {
		t.Fatalf("crawl of %d expected URLs: %d missing %v, %d fetched more than once %v, %d unexpected %v",
			len(expected), len(missing), head(missing), len(repeated), head(repeated), len(unexpected), head(unexpected))
	}
	for _, r := range site.Log() {
		if r.Host == site.Offsite {
			t.Fatalf("off-scope host fetched: %s%s", r.Host, r.Path)
		}
	}
	if outPath == "" {
		return
	}
	// Every fetch is in the output once, and so is every URL robots.txt
	// kept from being fetched, with status 910.
	records := readJSONL(t, outPath)
	listed := map[string]int{}
	status := map[string]float64{}
	for _, r := range records {
		listed[r["url"].(string)]++
		status[r["url"].(string)] = r["status"].(float64)
	}
	disallowed := site.Disallowed()
	for _, u := range append(append([]string(nil), expected...), disallowed...) {
		if listed[u] != 1 {
			t.Errorf("JSONL lists %s %d times, want 1", u, listed[u])
		}
	}
	for _, u := range disallowed {
		if status[u] != crawluri.StatusRobotsDisallowed {
			t.Errorf("JSONL status of %s is %v, want %d (robots.txt)", u, status[u], crawluri.StatusRobotsDisallowed)
		}
	}
	if len(records) != len(expected)+len(disallowed) {
		t.Errorf("JSONL has %d records, want %d fetched + %d disallowed", len(records), len(expected), len(disallowed))
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func TestCrawlLocalSiteEndToEnd(t *testing.T) {
	site := startSite(t, 110, 3*time.Millisecond)
	if n := len(site.Expected()); n < 200 {
		t.Fatalf("site too small: %d pages", n)
	}
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", "# seeds\n"+strings.Join(site.Seeds(), "\n")+"\n\nnot a url\n")
	out := dir + "/out.jsonl"
	c := newCluster(t)

	// Workers first; the master starts paused and is resumed once both have
	// registered, so the check that both did work is not a race.
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	resumeWith(t, c, 2)

	waitClean(t, m, w1, w2)
	checkCrawl(t, site, out)

	down := m.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["clean"] != true {
		t.Fatalf("master did not report a clean stop: %v", down)
	}
	classes, _ := down[0]["results_by_class"].(map[string]any)
	if classes["2xx"] == nil || classes["3xx"] == nil || classes["4xx"] == nil {
		t.Errorf("results by class %v: the site has 200s, a redirect and 404s", classes)
	}
	if down[0]["bad_seeds"].(float64) != 1 {
		t.Errorf("bad_seeds = %v, want 1 (the 'not a url' line)", down[0]["bad_seeds"])
	}
	// Both workers did work: URLs were spread over them.
	for _, w := range []*proc{w1, w2} {
		st := w.Find(event(events.WorkerDown))
		if len(st) != 1 || st[0]["done"].(float64) == 0 {
			t.Errorf("%s did no work: %v", w.Name(), st)
		}
	}
	// Every fetch carried the configured User-Agent.
	for _, r := range site.Log() {
		if !strings.Contains(r.UA, "spyder") {
			t.Fatalf("request %s without the spyder User-Agent: %q", r.Path, r.UA)
		}
	}
}

func TestSIGTERMMidCrawlShutsDownGracefully(t *testing.T) {
	site := startSite(t, 400, 30*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_MASTER_SHUTDOWN_GRACE=8", "SPYDER_WORKER_SHUTDOWN_GRACE=4", "SPYDER_MAX_CLIENTS=4")

	m := start(t, "master", c.Env, "master", "--seeds", seeds, "--out", dir+"/out.jsonl")
	m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")

	// Mid-crawl: both workers registered and results flowing.
	m.WaitFor(t, "progress with results", 30*time.Second, func(r map[string]any) bool {
		done, _ := r["done"].(float64)
		return r["event"] == "progress" && done >= 20 && r["workers"] == float64(2)
	})
	stopAt := time.Now()
	m.Signal(syscall.SIGTERM)
	if code := m.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("master exit code %d after SIGTERM", code)
	}
	if took := time.Since(stopAt); took > 8*time.Second {
		t.Fatalf("master took %v to stop, grace is 8s", took)
	}
	for _, w := range []*proc{w1, w2} {
		if code := w.Wait(t, 10*time.Second); code != 0 {
			t.Fatalf("%s exit code %d", w.Name(), code)
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 || down[0]["clean"] != true {
		t.Fatalf("master did not stop cleanly: %v", down)
	}
	if q, _ := down[0]["queued"].(float64); q == 0 {
		t.Fatalf("the crawl was over before SIGTERM; the test needs a larger site")
	}
	acks := m.Find(event("quit.ack"))
	for _, w := range []*proc{w1, w2} {
		id := fmt.Sprintf(":%d", w.Pid())
		found := false
		for _, a := range acks {
			if strings.HasSuffix(a["worker"].(string), id) {
				found = true
			}
		}
		if !found {
			t.Errorf("no quit.ack from %s (pid %d); acks: %v", w.Name(), w.Pid(), acks)
		}
	}
	// After the master is down the site sees no more requests.
	n := len(site.Log())
	time.Sleep(300 * time.Millisecond)
	if len(site.Log()) != n {
		t.Fatalf("requests continued after shutdown")
	}
}

func TestStartOrder(t *testing.T) {
	for _, workersFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("workersFirst=%v", workersFirst), func(t *testing.T) {
			site := startSite(t, 40, 0)
			dir := t.TempDir()
			seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
			out := dir + "/out.jsonl"
			c := newCluster(t)
			var m, w1, w2 *proc
			startMaster := func() {
				m = start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
			}
			if !workersFirst {
				startMaster()
				m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
			}
			w1 = start(t, "worker1", c.Env, "worker")
			w2 = start(t, "worker2", c.Env, "worker")
			if workersFirst {
				started := w1.WaitFor(t, "WORKER_STARTED", 20*time.Second, event(events.WorkerStarted))
				w2.WaitFor(t, "WORKER_STARTED", 20*time.Second, event(events.WorkerStarted))
				// A worker without a master says where it waits for one,
				// and is not READY until one answers.
				for _, addr := range []string{c.Push, c.Sub, c.MPub, c.MSub} {
					if msg, _ := started["message"].(string); !strings.Contains(msg, "waiting for a master at") || !strings.Contains(msg, addr) {
						t.Errorf("the worker's start does not say it waits for a master at %s: %q", addr, msg)
					}
				}
				time.Sleep(time.Second) // several unanswered announcements
				if ready := w1.Find(event(events.WorkerReady)); len(ready) != 0 {
					t.Fatalf("READY before any master ran: %v", ready)
				}
				startMaster()
			}
			resumeWith(t, c, 2)
			for _, w := range []*proc{w1, w2} {
				if ready := w.WaitFor(t, "WORKER_READY", 20*time.Second, event(events.WorkerReady)); !strings.HasPrefix(ready["master"].(string), "master:") {
					t.Fatalf("READY names no master: %v", ready)
				}
			}
			waitClean(t, m, w1, w2)
			checkCrawl(t, site, out)
		})
	}
}

// TestSecondSignalExitsAtOnce: a drain that would take long (fetches of 20
// seconds, long grace periods) is cut short by a second SIGTERM, exit 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	site := startSite(t, 20, 20*time.Second)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_MASTER_SHUTDOWN_GRACE=60", "SPYDER_WORKER_SHUTDOWN_GRACE=60",
		"SPYDER_REQUEST_TIMEOUT=30", "SPYDER_MASTER_LEASE_TIMEOUT=60")
	m := start(t, "master", c.Env, "master", "--seeds", seeds)
	m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	w := start(t, "worker", c.Env, "worker")
	m.WaitFor(t, "a dispatch", 20*time.Second, func(r map[string]any) bool {
		inFlight, _ := r["in_flight"].(float64)
		return r["event"] == "progress" && inFlight > 0
	})
	for _, p := range []*proc{m, w} {
		p.Signal(syscall.SIGTERM)
	}
	m.WaitFor(t, "drain", 10*time.Second, event(events.MasterShutdownRequested))
	w.WaitFor(t, "drain", 10*time.Second, event(events.WorkerShutdownRequested))
	start := time.Now()
	for _, p := range []*proc{m, w} {
		p.Signal(syscall.SIGTERM)
	}
	for _, p := range []*proc{m, w} {
		if code := p.Wait(t, 5*time.Second); code != 1 {
			t.Fatalf("%s exit code %d after a second signal, want 1", p.Name(), code)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("second signal took %v", took)
	}
}

// TestWorkerStoppedMidCrawlLosesNothing: one worker is stopped with SIGTERM
// during the crawl; it hands back what it had not started, finishes what
// it had, and the other worker completes the crawl with every page fetched
// exactly once.
func TestWorkerStoppedMidCrawlLosesNothing(t *testing.T) {
	site := startSite(t, 110, 20*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_MAX_CLIENTS=3")
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")
	w1.WaitFor(t, "WORKER_STARTED", 20*time.Second, event(events.WorkerStarted))
	w2.WaitFor(t, "WORKER_STARTED", 20*time.Second, event(events.WorkerStarted))
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", out)
	m.WaitFor(t, "progress", 30*time.Second, func(r map[string]any) bool {
		done, _ := r["done"].(float64)
		return r["event"] == "progress" && done >= 30
	})
	w1.Signal(syscall.SIGTERM)
	if code := w1.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("stopped worker exit code %d", code)
	}
	if code := m.Wait(t, 120*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	if code := w2.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("worker2 exit code %d", code)
	}
	checkCrawl(t, site, out)
	// URLs still in the master's send pipe to the stopped worker when it
	// disconnected die with the pipe (PUSH); their leases bring them back.
	// Everything the worker had received it handed back.
	down := m.Find(event(events.MasterDown))
	stopped := w1.Find(event(events.WorkerDown))
	if len(down) != 1 || len(stopped) != 1 {
		t.Fatal("missing final records")
	}
	t.Logf("stopped worker handed back %v URLs; %v leases expired", stopped[0]["returned"], down[0]["expired"])
}
