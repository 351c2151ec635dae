// e2e_node_test.go: spyder node: restarts, giving up, bad settings, late workers, SIGTERM, Ctrl-C on a terminal, metrics ports.

package main

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
)

func childSaid(name, msg string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["child"] == name && m["message"] == msg }
}

// TestNodeRestartsAKilledWorker: `spyder node` runs a master and two
// workers; one worker is killed with SIGKILL mid-crawl; the node restarts
// it, the crawl completes, and the node exits 0 with every URL fetched and
// in the output once.
func TestNodeRestartsAKilledWorker(t *testing.T) {
	site := startSite(t, 20, 30*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0.05")
	n := start(t, "node", c.Env, "node", "--workers", "2", "--until-done", "--seeds", seeds, "--out", out)
	n.WaitFor(t, "w1 ready", 30*time.Second, childSaid("w1", "child ready"))
	n.WaitFor(t, "results", 30*time.Second, func(m map[string]any) bool { return m["event"] == "progress" && m["done"].(float64) > 5 })
	first := n.Find(childSaid("w1", "child started"))[0]["pid"].(float64)
	if err := syscall.Kill(int(first), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.WaitFor(t, "the crash", 10*time.Second, func(m map[string]any) bool { return m["event"] == "child.crashed" && m["child"] == "w1" })
	n.WaitFor(t, "w1 restarted", 20*time.Second, func(m map[string]any) bool {
		return m["child"] == "w1" && m["message"] == "child started" && m["pid"].(float64) != first
	})
	if code := n.Wait(t, 120*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	if len(n.Find(childSaid("w1", "child ready"))) != 2 {
		t.Fatal("the restarted worker never became ready")
	}
	counts := site.Counts()
	want := map[string]bool{}
	for _, u := range site.Expected() {
		want[u] = true
		if counts[u] == 0 {
			t.Errorf("never fetched: %s", u)
		}
	}
	for u := range counts {
		if !want[u] {
			t.Errorf("unexpected fetch: %s", u)
		}
	}
	listed := map[string]int{}
	for _, r := range readJSONL(t, out) {
		listed[r["url"].(string)]++
	}
	for u := range want {
		if listed[u] != 1 {
			t.Errorf("JSONL lists %s %d times", u, listed[u])
		}
	}
}

// TestNodeStopsOnAWorkerThatRefusesItsSettings: a worker-only mistake the
// node's checks do not see (the workers' CURVE secret key file readable by
// others, which a worker refuses when it starts; the master, without
// CURVE, never reads it). The worker exits 2; the node does not restart it
// on the same settings but stops the master and exits 2, naming the
// worker and its last words. (Restarts up to the limit are tested in
// internal/node.)
func TestNodeStopsOnAWorkerThatRefusesItsSettings(t *testing.T) {
	site := startSite(t, 5, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	keygen(t, dir+"/master")
	keygen(t, dir+"/w")
	if err := os.Chmod(dir+"/w_secret", 0o644); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "SPYDER_CURVE_SERVER_PUBLIC_KEY="+dir+"/master", "SPYDER_CURVE_SECRET_KEY="+dir+"/w_secret")
	n := start(t, "node", c.Env, "node", "--workers", "1", "--restart-limit", "3", "--seeds", seeds)
	if code := n.Wait(t, 60*time.Second); code != 2 {
		t.Fatalf("node exit code %d, want 2", code)
	}
	if crashes := n.Find(func(m map[string]any) bool { return m["event"] == "child.crashed" }); len(crashes) != 0 {
		t.Fatalf("restarted on the same settings: %v", crashes)
	}
	stopped := n.Find(func(m map[string]any) bool { return m["message"] == "node stopped with an error" })
	if len(stopped) != 1 {
		t.Fatal("no final error")
	}
	msg := stopped[0]["error"].(string)
	if !strings.Contains(msg, "w1 refused its settings (exit code 2)") || !strings.Contains(msg, "chmod 600") {
		t.Fatalf("final error: %s", msg)
	}
	if len(n.Find(childSaid("master", "child stopped"))) != 1 {
		t.Fatal("the master was not stopped")
	}
}

// TestNodeStopsCleanlyOnSIGTERM: the master drains, its workers quit, and
// the node exits 0 with every child stopped cleanly.
func TestNodeStopsCleanlyOnSIGTERM(t *testing.T) {
	site := startSite(t, 20, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0.05")
	n := start(t, "node", c.Env, "node", "--workers", "2", "--seeds", seeds)
	n.WaitFor(t, "node ready", 30*time.Second, event(events.NodeReady))
	n.WaitFor(t, "w2 ready", 30*time.Second, childSaid("w2", "child ready"))
	n.Signal(syscall.SIGTERM)
	if code := n.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	if len(n.Find(event(events.NodeDown))) != 1 {
		t.Error("no SPYDER:NODE_DOWN")
	}
	for _, name := range []string{"master", "w1", "w2"} {
		st := n.Find(childSaid(name, "child stopped"))
		if len(st) != 1 || st[0]["exit_code"].(float64) != 0 {
			t.Errorf("%s: %v", name, st)
		}
	}
}

// TestNodeWorkersLateForAFinishedCrawl: `spyder node --until-done` with
// six workers on a one-page site. The first worker to register fetches
// the page and the master finishes before the others have registered, so
// it never tells them to quit; the node stops them, and exits 0 with every
// child stopped cleanly. (They waited for a master that was gone until the
// node killed them after its grace period, and the node exited 1.)
func TestNodeWorkersLateForAFinishedCrawl(t *testing.T) {
	site := startSite(t, 1, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", site.Seeds()[0])
	c := newCluster(t, "SPYDER_MAX_DEPTH=0")
	const workers = 6
	n := start(t, "node", c.Env, "node", "--workers", strconv.Itoa(workers), "--until-done", "--seeds", seeds)
	if code := n.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	if len(n.Find(childSaid("master", "master finished; the workers quit, or get TERM"))) != 1 {
		t.Error("the master did not finish the crawl")
	}
	for i := 1; i <= workers; i++ {
		name := fmt.Sprintf("w%d", i)
		// A worker that quit before its master finished is not restarted;
		// one still running after is stopped.
		quit := n.Find(childSaid(name, "worker exited cleanly; not restarted"))
		stopped := n.Find(childSaid(name, "child stopped"))
		if len(quit)+len(stopped) != 1 || (len(stopped) == 1 && stopped[0]["exit_code"].(float64) != 0) {
			t.Errorf("%s: quit %v, stopped %v", name, quit, stopped)
		}
	}
	late := n.Find(func(m map[string]any) bool {
		return m["message"] == "worker still running after its master finished; sending TERM"
	})
	t.Logf("%d of %d workers were still running when the crawl ended, and got TERM", len(late), workers)
}

// TestNodeStopsOnBadSettings: a child that refuses its settings (exit 2)
// is not restarted on the same settings: the node stops at once and exits
// 2 with the child's words.
func TestNodeStopsOnBadSettings(t *testing.T) {
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", "# no URL\n")
	c := newCluster(t)
	n := start(t, "node", c.Env, "node", "--workers", "1", "--seeds", seeds)
	if code := n.Wait(t, 30*time.Second); code != 2 {
		t.Fatalf("node exit code %d, want 2", code)
	}
	if crashes := n.Find(func(m map[string]any) bool { return m["event"] == "child.crashed" }); len(crashes) != 0 {
		t.Errorf("the master was restarted %d times", len(crashes))
	}
	stopped := n.Find(func(m map[string]any) bool { return m["message"] == "node stopped with an error" })
	if len(stopped) != 1 || !strings.Contains(stopped[0]["error"].(string), "has no URL") {
		t.Fatalf("final error: %v", stopped)
	}
}

// TestNodeAtLogLevelWarn: with the master's and the workers' log level at
// warn, the node still starts its workers (it waits for the master's ready
// event, an info record) and the crawl completes; what it prints is what
// was asked for: no info record of any child. (Once the node waited for
// its master's ready event for ever.)
func TestNodeAtLogLevelWarn(t *testing.T) {
	site := startSite(t, 10, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0", "SPYDER_LOG_LEVEL_MASTER=warn", "SPYDER_LOG_LEVEL_WORKER=warn")
	n := start(t, "node", c.Env, "node", "--workers", "2", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
	if code := n.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	if got, want := len(readJSONL(t, dir+"/out.jsonl")), len(site.Expected()); got != want {
		t.Errorf("%d results in the output, want %d", got, want)
	}
	if info := n.Find(func(m map[string]any) bool { return m["level"] == "info" || m["level"] == "debug" }); len(info) > 0 {
		t.Errorf("%d records under warn printed, e.g. %v", len(info), info[0])
	}
}

// TestNodeCtrlCInATerminal runs spyder node on a pseudo-terminal and
// presses Ctrl-C, as a person does. The terminal signals its foreground
// process group; the children are not in it, so one Ctrl-C drains the
// crawl as `spyder master` does and the node exits 0 (it once exited 1:
// each child took the terminal's SIGINT and then the node's TERM as a
// second signal). A second Ctrl-C stops everything at once, with 1. On the
// terminal the children's records read like the node's own, not JSON.
func TestNodeCtrlCInATerminal(t *testing.T) {
	for _, tc := range []struct {
		presses  int
		response time.Duration // the site's time to answer
		minDelay string
	}{
		{presses: 1, response: 20 * time.Millisecond, minDelay: "0.05"},
		// The second Ctrl-C must find the drain still running: slow
		// responses and no delay keep fetches in flight (with a quick site
		// the drain was often over before the second press).
		{presses: 2, response: 2 * time.Second, minDelay: "0"},
	} {
		presses := tc.presses
		t.Run(fmt.Sprintf("%d Ctrl-C", presses), func(t *testing.T) {
			site := startSite(t, 200, tc.response)
			dir := t.TempDir()
			seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
			c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY="+tc.minDelay, "SPYDER_MASTER_SHUTDOWN_GRACE=20", "SPYDER_WORKER_SHUTDOWN_GRACE=10")
			c.Env = removeEnv(c.Env, "SPYDER_LOG_FORMAT") // auto: a terminal gets the console format
			n := startInTerminal(t, dir, c.Env, "node", "--workers", "2", "--seeds", seeds, "--out", dir+"/out.jsonl")
			n.waitScreen(t, "node started its children", 30*time.Second)
			n.waitScreen(t, "READY: registered with master", 30*time.Second)
			// The progress line reads as a sentence with units.
			n.waitScreen(t, "MB/s;", 20*time.Second)
			pressed := time.Now()
			n.typeKeys(t, "\x03")
			if presses == 1 {
				if code := n.Wait(t, 60*time.Second); code != 0 {
					t.Fatalf("one Ctrl-C: exit code %d, want 0", code)
				}
				screen := n.screen()
				for _, want := range []string{"SPYDER:MASTER_DOWN", "clean=true", "SPYDER:NODE_DOWN",
					// the end of crawl summary, as a table
					"crawl summary\n", "  ended                    signal\n", "  pages/s ", "  URLs left out ", "  output                   " + dir + "/out.jsonl\n",
					// durations with their unit
					"grace=20s"} {
					if !strings.Contains(screen, want) {
						t.Errorf("the terminal does not show %q", want)
					}
				}
				if strings.Contains(screen, "second signal") {
					t.Error("a child took one Ctrl-C as two")
				}
			} else {
				n.waitScreen(t, "send the signal again", 10*time.Second)
				n.typeKeys(t, "\x03")
				if code := n.Wait(t, 10*time.Second); code != 1 {
					t.Fatalf("two Ctrl-C: exit code %d, want 1", code)
				}
				if took := time.Since(pressed); took > 5*time.Second {
					t.Errorf("two Ctrl-C took %v to stop everything", took)
				}
			}
			if strings.Contains(n.screen(), `{"level"`) {
				t.Error("the terminal shows raw JSON records")
			}
			// Every child is gone: none was left behind in its own
			// process group.
			for _, line := range strings.Split(n.screen(), "\n") {
				_, after, ok := strings.Cut(line, "pid=")
				if !ok || !strings.Contains(line, "child started") {
					continue
				}
				var pid int
				fmt.Sscanf(after, "%d", &pid)
				if pid > 0 && syscall.Kill(pid, 0) == nil {
					if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(st), ") Z ") {
						t.Errorf("child %d still runs after the node exited", pid)
					}
				}
			}
		})
	}
}

// consecutiveFreePorts finds n free loopback ports in a row.
func consecutiveFreePorts(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 100; try++ {
		base := 20000 + rand.Intn(30000)
		var held []net.Listener
		for i := 0; i < n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			held = append(held, ln)
		}
		for _, ln := range held {
			ln.Close()
		}
		if len(held) == n {
			return base
		}
	}
	t.Fatal("no free ports in a row")
	return 0
}

// TestNodeGivesEachChildItsMetricsPort: metrics_listen with a fixed port
// under spyder node: the master serves on it, worker i on port+i (they all
// bound the master's port, and the workers crashed). A port that is taken
// is refused with exit 2 naming the setting before any child starts, and
// so is a taken port for a master started alone.
func TestNodeGivesEachChildItsMetricsPort(t *testing.T) {
	site := startSite(t, 20, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	base := consecutiveFreePorts(t, 3)
	c := newCluster(t, fmt.Sprintf("SPYDER_METRICS_LISTEN=127.0.0.1:%d", base))
	n := start(t, "node", c.Env, "node", "--workers", "2", "--seeds", seeds)
	n.WaitFor(t, "w1 ready", 30*time.Second, childSaid("w1", "child ready"))
	n.WaitFor(t, "w2 ready", 30*time.Second, childSaid("w2", "child ready"))
	addrs := map[string]bool{}
	for _, r := range n.Find(event("metrics")) {
		addrs[r["addr"].(string)] = true
	}
	for i := 0; i < 3; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", base+i)
		if !addrs[addr] {
			t.Errorf("no child serves metrics on %s: %v", addr, addrs)
			continue
		}
		if len(scrape(t, addr)) == 0 {
			t.Errorf("%s serves no metrics", addr)
		}
	}
	if crashed := n.Find(event("child.crashed")); len(crashed) != 0 {
		t.Errorf("children crashed: %v", crashed)
	}
	n.Signal(syscall.SIGTERM)
	if code := n.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}

	// A taken port: worker 1's.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := start(t, "node with a taken port", c.Env, "node", "--workers", "2", "--seeds", seeds)
	if code := taken.Wait(t, 20*time.Second); code != 2 {
		t.Fatalf("node with a taken metrics port: exit code %d, want 2", code)
	}
	if log := taken.Text(); !strings.Contains(log, "metrics_listen") || !strings.Contains(log, fmt.Sprintf("127.0.0.1:%d is taken", base+1)) || strings.Contains(log, "child started") {
		t.Fatalf("node with a taken metrics port:\n%s", log)
	}
	alone := start(t, "master with a taken port", c.Env, "master", "--seeds", seeds, "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", base+1))
	if code := alone.Wait(t, 20*time.Second); code != 2 {
		t.Fatalf("master with a taken metrics port: exit code %d, want 2", code)
	}
	if log := alone.Text(); !strings.Contains(log, "metrics_listen 127.0.0.1:") || !strings.Contains(log, "address already in use") {
		t.Fatalf("master with a taken metrics port:\n%s", log)
	}
}
