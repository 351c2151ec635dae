// e2e_logsink_test.go: spyder logsink collects the records of a master and its workers.

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

// readLogDir reads every record of role's files (rotated ones too).
func readLogDir(t *testing.T, dir, role string) (records []map[string]any, files int) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, role+".log*"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: %q: %v", p, sc.Text(), err)
			}
			records = append(records, m)
		}
		f.Close()
	}
	return records, len(paths)
}

// TestLogsinkCollectsMasterAndWorkers: with zeromq_logging set, the
// records of a master and two workers reach `spyder logsink`, which writes
// them per role and rotates by size; they also still go to each process's
// stderr. Without a logsink running, the same settings crawl as before.
func TestLogsinkCollectsMasterAndWorkers(t *testing.T) {
	site := startSite(t, 10, 0)
	dir := t.TempDir()
	logs := dir + "/log"
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	bus := testsite.FreeEndpoints(t, 1)[0]
	c := newCluster(t, "SPYDER_ZEROMQ_LOGGING="+bus, "SPYDER_LOG_LEVEL_WORKER=debug")
	sink := start(t, "logsink", c.Env, "logsink", "--dir", logs, "--max-size", "8192", "--keep", "50")
	sink.WaitFor(t, "logsink ready", 20*time.Second, event(events.LogsinkReady))
	// One worker before the master, one after; both take part.
	w1 := start(t, "w1", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", dir+"/out.jsonl")
	m.WaitFor(t, "master ready", 20*time.Second, event(events.MasterReady))
	w2 := start(t, "w2", c.Env, "worker")
	resumeWith(t, c, 2)
	waitClean(t, m, w1, w2)
	checkCrawl(t, site, dir+"/out.jsonl")
	time.Sleep(300 * time.Millisecond) // the last records in flight
	sink.Signal(syscall.SIGTERM)
	if code := sink.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("logsink exit code %d", code)
	}

	masterRecs, _ := readLogDir(t, logs, "master")
	var ready, down bool
	for _, r := range masterRecs {
		ready = ready || r["event"] == string(events.MasterReady)
		down = down || r["event"] == string(events.MasterDown)
		if r["role"] != "master" {
			t.Fatalf("a %v record in master.log", r["role"])
		}
	}
	if !ready || !down {
		t.Fatalf("master.log: ready %v, down %v (%d records)", ready, down, len(masterRecs))
	}
	if got := len(m.Find(func(map[string]any) bool { return true })); got == 0 {
		t.Fatal("the master's stderr lost its records")
	}
	workerRecs, files := readLogDir(t, logs, "worker")
	readyIDs := map[any]bool{}
	fetched := 0
	for _, r := range workerRecs {
		if r["event"] == string(events.WorkerReady) {
			readyIDs[r["id"]] = true
		}
		if r["message"] == "fetched" {
			fetched++
		}
	}
	if len(readyIDs) != 2 {
		t.Fatalf("worker.log has the start of %d workers, want 2", len(readyIDs))
	}
	if want := len(site.Expected()); fetched != want {
		t.Fatalf("worker.log has %d fetches, want %d", fetched, want)
	}
	if files < 2 {
		t.Fatalf("worker.log was not rotated at 8 KiB (%d files)", files)
	}

	// No logsink: the crawl and local logging go on as before.
	site2 := startSite(t, 5, 0)
	seeds2 := writeFile(t, dir, "seeds2.txt", strings.Join(site2.Seeds(), "\n"))
	c2 := newCluster(t, "SPYDER_ZEROMQ_LOGGING="+testsite.FreeEndpoints(t, 1)[0])
	w := start(t, "w", c2.Env, "worker")
	m2 := start(t, "master2", c2.Env, "master", "--until-done", "--seeds", seeds2)
	waitClean(t, m2, w)
	checkCrawl(t, site2, "")
	if len(m2.Find(event(events.MasterDown))) != 1 {
		t.Fatal("no local record of the master's end")
	}
}
