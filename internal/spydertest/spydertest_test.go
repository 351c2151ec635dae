// spydertest_test.go: an in-process crawl through the harness.

package spydertest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/mgmt"
)

// TestInProcessCrawl: a master and two workers started in the test's
// process crawl a two-host site over real loopback sockets to its end, as
// the binary would: every page once, and each process's lifecycle events
// in its log. The master starts paused and a control client (mgmt.Dial)
// resumes it, as spyder resume does.
func TestInProcessCrawl(t *testing.T) {
	site, err := testsite.Start(testsite.Options{IPs: []string{"127.0.0.2", "127.0.0.3"}, OffsiteIP: "127.0.0.9", Pages: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	dir := t.TempDir()
	seeds := filepath.Join(dir, "seeds.txt")
	if err := os.WriteFile(seeds, []byte(strings.Join(site.Seeds(), "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pages.jsonl")
	c := NewCluster(t)
	s := c.Settings(t, "SPYDER_SEEDS_FILE="+seeds, "SPYDER_OUTPUT_JSONL="+out)

	// Paused until both workers are ready: without politeness the crawl
	// may otherwise end before the second one registers.
	m := StartMaster(t, "master", s, MasterOptions{UntilDone: true, Paused: true})
	m.WaitFor(t, "master ready", 10*time.Second, Event(events.MasterReady))
	w1 := StartWorker(t, "w1", s)
	w2 := StartWorker(t, "w2", s)
	for _, w := range []*Running{w1, w2} {
		w.WaitFor(t, "worker ready", 10*time.Second, Event(events.WorkerReady))
	}
	ctl, err := mgmt.Dial(mgmt.DialOptions{MgmtMaster: c.MPub, MgmtWorker: c.MSub, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if _, err := ctl.Request(mgmt.VerbResume, mgmt.Request{}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if err := m.Wait(t, 60*time.Second); err != nil {
		t.Fatalf("master: %v", err)
	}
	for _, w := range []*Running{w1, w2} {
		if err := w.Wait(t, 20*time.Second); err != nil {
			t.Fatalf("%s: %v", w.Name(), err)
		}
		if len(w.Find(Event(events.WorkerReady))) != 1 || len(w.Find(Event(events.WorkerDown))) != 1 {
			t.Errorf("%s: ready and down once each:\n%s", w.Name(), w.Text())
		}
	}
	down := m.Find(Event(events.MasterDown))
	if len(down) != 1 || down[0]["clean"] != true {
		t.Fatalf("master down: %v", down)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct{ URL string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, r.URL)
	}
	slices.Sort(got)
	if want := site.Expected(); !slices.Equal(got, want) {
		t.Fatalf("crawled %d URLs, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	if counts := site.Counts(); len(counts) == 0 {
		t.Fatal("the site served nothing")
	} else {
		for u, n := range counts {
			if n != 1 {
				t.Errorf("%s requested %d times", u, n)
			}
		}
	}
}

// TestWorkerRegistersWithoutWaitingForAHeartbeat: a worker's first
// announcement is often lost (its PUB drops what it sends before the
// master's SUB has connected); it announces again after 10 ms, 20 ms, ...
// until acknowledged, so with a heartbeat of 30 s it is still registered
// at once, not 30 s later.
func TestWorkerRegistersWithoutWaitingForAHeartbeat(t *testing.T) {
	c := NewCluster(t, "SPYDER_HEARTBEAT_INTERVAL=30")
	s := c.Settings(t, "SPYDER_MASTER_CALLBACK=")
	m := StartMaster(t, "master", s, MasterOptions{})
	m.WaitFor(t, "master ready", 10*time.Second, Event(events.MasterReady))
	for _, name := range []string{"w1", "w2", "w3"} {
		w := StartWorker(t, name, s)
		w.WaitFor(t, "worker registered", 5*time.Second, Event(events.WorkerReady))
	}
}
