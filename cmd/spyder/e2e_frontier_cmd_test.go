// e2e_frontier_cmd_test.go: spyder frontier inject, a crawl, then spyder frontier inspect.

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
)

// TestInjectThenCrawlThenInspect seeds a state directory offline with
// `frontier inject`, crawls it with a master that has no seeds of its own
// (the scope comes from the injected seeds' hosts, kept in the store), and
// reads the result back with `frontier inspect`, which refuses to run while
// the master holds the directory.
func TestInjectThenCrawlThenInspect(t *testing.T) {
	site := startSite(t, 30, 0)
	dir := t.TempDir()
	state := dir + "/state"
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n")+"\nftp://not/crawlable\n")
	c := newCluster(t, "SPYDER_STATE_DIR="+state)

	out, err := exec.Command(spyderBin, "frontier", "inject", seeds, "--state-dir", state).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "injected 2 new URLs") || !strings.Contains(string(out), "1 malformed") {
		t.Fatalf("inject: %v\n%s", err, out)
	}
	// The same lines again, from standard input: all known.
	again := exec.Command(spyderBin, "frontier", "inject", "-", "--state-dir", state)
	again.Stdin = strings.NewReader(strings.Join(site.Seeds(), "\n") + "\nftp://not/crawlable\n")
	if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "injected 0 new URLs") || !strings.Contains(string(out), "2 already known, 1 malformed") {
		t.Fatalf("inject from standard input: %v\n%s", err, out)
	}
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--out", dir+"/out.jsonl")
	m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	busy, err := exec.Command(spyderBin, "frontier", "inspect", "--state-dir", state).CombinedOutput()
	if err == nil || !strings.Contains(string(busy), "is held by process") {
		// The crawl may already be over; only a running master must be refused.
		select {
		case <-m.Done():
		default:
			t.Fatalf("inspect while the master runs: %v\n%s", err, busy)
		}
	}
	waitClean(t, m, w)
	checkCrawl(t, site, dir+"/out.jsonl")

	js, err := exec.Command(spyderBin, "frontier", "inspect", "--state-dir", state, "--json", "--url", site.Seeds()[0]).Output()
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	var rep struct {
		Stats  struct{ Seen, Queued, InFlight, Done, Failed int64 }
		Queues []struct {
			Name   string
			Queued int64
		}
		SeedHosts []string `json:"seed_hosts"`
		URL       struct {
			Known   bool
			State   string
			History []struct{ Event string }
		}
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	var want int64 // the crawl's URLs; the robots.txt fetches are not among them
	for _, u := range site.Expected() {
		if !strings.HasSuffix(u, "/robots.txt") {
			want++
		}
	}
	if rep.Stats.Seen != want || rep.Stats.Done+rep.Stats.Failed != want || rep.Stats.Queued != 0 || rep.Stats.InFlight != 0 {
		t.Fatalf("stats %+v, want %d URLs all settled", rep.Stats, want)
	}
	if len(rep.SeedHosts) != 2 {
		t.Fatalf("seed hosts %v", rep.SeedHosts)
	}
	var events []string
	for _, h := range rep.URL.History {
		events = append(events, h.Event)
	}
	// (A dispatch the PUSH socket could not take yet shows up as a lease
	// ended without a result, then a second dispatch.)
	history := strings.Join(events, "|")
	if !rep.URL.Known || rep.URL.State != "scheduled for a revisit" || !strings.HasPrefix(history, "added as seed|dispatched|") ||
		!strings.HasSuffix(history, "|dispatched|result: scheduled for a revisit") {
		t.Fatalf("seed's record: %+v", rep.URL)
	}
	text, err := exec.Command(spyderBin, "frontier", "inspect", "--state-dir", state).Output()
	if err != nil || !strings.Contains(string(text), "queues:") || !strings.Contains(string(text), "2 seed hosts") {
		t.Fatalf("text report: %v\n%s", err, text)
	}
}

// TestInjectKilledIsAllOrNothing kills `frontier inject` with SIGKILL while
// it spills the URLs and again as it sorts and writes them: the state
// directory then holds what it held before (or, past the ingest, all of the
// new URLs), never part of them, and the next inject clears what the killed
// one left and admits the URLs.
func TestInjectKilledIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	state := dir + "/state"
	before := writeFile(t, dir, "before.txt", "http://kept.test/1\nhttp://kept.test/2\n")
	if out, err := exec.Command(spyderBin, "frontier", "inject", before, "--state-dir", state).CombinedOutput(); err != nil {
		t.Fatalf("inject: %v\n%s", err, out)
	}
	const n = 150000
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "http://host%d.test/page/%d\n", i%20000, i)
	}
	urls := writeFile(t, dir, "urls.txt", b.String())
	seen := func() int64 {
		t.Helper()
		js, err := exec.Command(spyderBin, "frontier", "inspect", "--state-dir", state, "--json").Output()
		if err != nil {
			t.Fatalf("inspect: %v", err)
		}
		var rep struct{ Stats struct{ Seen, Queued int64 } }
		if err := json.Unmarshal(js, &rep); err != nil {
			t.Fatalf("%v\n%s", err, js)
		}
		if rep.Stats.Seen != rep.Stats.Queued {
			t.Fatalf("stats %+v: every URL should be queued", rep.Stats)
		}
		return rep.Stats.Seen
	}

	for _, tc := range []struct {
		name   string
		killAt func(stderr *bufio.Scanner) bool // returns when to kill
	}{
		{"while spilling", func(*bufio.Scanner) bool {
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				if st, err := os.Stat(filepath.Join(state, "bulk-spill", "q-000")); err == nil && st.Size() > 0 {
					return true
				}
			}
			return false
		}},
		{"while writing tables", func(stderr *bufio.Scanner) bool {
			for stderr.Scan() {
				if strings.Contains(stderr.Text(), "sorting and writing") {
					return true
				}
			}
			return false
		}},
	} {
		cmd := exec.Command(spyderBin, "frontier", "inject", urls, "--state-dir", state, "--log-format", "json")
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ok := tc.killAt(bufio.NewScanner(pipe))
		cmd.Process.Kill()
		go io.Copy(io.Discard, pipe)
		cmd.Wait()
		if !ok {
			t.Fatalf("%s: the inject never got there", tc.name)
		}
		if got := seen(); got != 2 && got != 2+n {
			t.Fatalf("killed %s: %d URLs in the store, want 2 (as before) or %d (all)", tc.name, got, 2+n)
		}
	}
	out, err := exec.Command(spyderBin, "frontier", "inject", urls, "--state-dir", state).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("(%d lines,", n)) {
		t.Fatalf("inject after the kills: %v\n%s", err, out)
	}
	if got := seen(); got != 2+n {
		t.Fatalf("%d URLs in the store after the inject, want %d", got, 2+n)
	}
	if _, err := os.Stat(filepath.Join(state, "bulk-spill")); !os.IsNotExist(err) {
		t.Fatalf("the spill directory is still there: %v", err)
	}
}
