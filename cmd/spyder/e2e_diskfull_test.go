// e2e_diskfull_test.go: a full state_dir: dispatch stops, and resumes when there is room.

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/mgmt"
)

// TestStateDirFullStopsDispatchAndResumes: the master's state_dir is on a
// small tmpfs of its own (a mount namespace made by unshare, so that no
// privilege is needed where user namespaces are allowed); mid-crawl the
// filesystem is filled. The master stops dispatching and says why; when
// the space returns it resumes, and the crawl completes with every page
// fetched and every line written: with the JSONL output elsewhere, and on
// the same full disk (the default layout), where a partial last line is
// cut off and the lines that did not reach the disk are written again.
func TestStateDirFullStopsDispatchAndResumes(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("this test needs unshare (util-linux): %v", err)
	}
	for _, sameDisk := range []bool{false, true} {
		t.Run(fmt.Sprintf("output_on_the_same_disk=%v", sameDisk), func(t *testing.T) { diskFull(t, sameDisk) })
	}
}

func diskFull(t *testing.T, sameDisk bool) {
	site := startSite(t, 300, 10*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	mnt := filepath.Join(dir, "disk")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "SPYDER_STATE_DIR="+mnt+"/state", "SPYDER_MAX_CLIENTS=2", "SPYDER_FRONTIER_CACHE_SIZE=1048576")
	script := fmt.Sprintf(`mount -t tmpfs -o size=96m spyder-test %q && exec "$0" "$@"`, mnt)
	args := []string{"--mount", "--map-root-user", "sh", "-c", script, spyderBin, "master", "--seeds", seeds}
	if sameDisk {
		args = append(args, "--out", mnt+"/out.jsonl") // runs until the test has read it
	} else {
		args = append(args, "--out", out, "--until-done")
	}
	m := startCmd(t, "master", c.Env, "unshare", args...)
	m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	w1, w2 := start(t, "w1", c.Env, "worker"), start(t, "w2", c.Env, "worker")
	m.WaitFor(t, "crawl under way", 30*time.Second, func(r map[string]any) bool {
		done, _ := r["done"].(float64)
		return r["event"] == "progress" && done >= 30
	})

	// Fill the master's filesystem, seen through its mount namespace.
	filler := fmt.Sprintf("/proc/%d/root%s/filler", m.Pid(), mnt)
	f, err := os.Create(filler)
	if err != nil {
		t.Fatalf("reaching the master's tmpfs: %v", err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	failed := m.WaitFor(t, "the store failure reported", 30*time.Second, event(events.StoreFailed))
	if msg, _ := failed["error"].(string); !strings.Contains(msg, "no space left") {
		t.Errorf("the failure does not say why: %v", failed["error"])
	}
	t.Logf("the master says: %v", failed["error"])
	// Dispatch stopped: nothing more goes out while the disk is full.
	st := waitStatus(t, c, "state store_failed", 10*time.Second, func(s mgmt.Status) bool { return s.State == "store_failed" })
	time.Sleep(2 * time.Second)
	if later := ctlStatus(t, c); later.Dispatched != st.Dispatched || later.State != "store_failed" {
		t.Fatalf("dispatched %d then %d (%s) with the store down", st.Dispatched, later.Dispatched, later.State)
	}
	inject := exec.Command(spyderBin, "inject", site.Seeds()[0]+"while-full")
	inject.Env = c.Env
	if out, err := inject.CombinedOutput(); err == nil || !strings.Contains(string(out), "store is down") {
		t.Errorf("inject while the store is down: %v, %s", err, out)
	}

	// Space returns: the master resumes from its last commit.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	m.WaitFor(t, "the store back", 30*time.Second, event(events.StoreResumed))
	if sameDisk {
		waitStatus(t, c, "the crawl done", 60*time.Second, func(s mgmt.Status) bool { return s.Queued == 0 && s.InFlight == 0 && s.State == "running" })
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s/out.jsonl", m.Pid(), mnt))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "out.jsonl", string(data)) // readJSONL below fails on a partial line
		m.Signal(syscall.SIGTERM)
	}
	waitClean(t, m, w1, w2)

	// Nothing missing. What was in flight when the store failed, or
	// dispatched by the commit that failed, is fetched again: at most twice
	// the credit (2 workers x master_inflight_per_worker 20).
	extra := checkNothingLost(t, site, out, 2*2*20)
	t.Logf("%d URLs, %d repeated fetches", len(site.Expected()), extra)
}
