// e2e_control_test.go: the operator's commands against a running crawl (status, pause, resume, inject, host, stop).

package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/mgmt"
)

// ctl runs one operator command against the cluster's master.
func ctl(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	cmd := exec.Command(spyderBin, args...)
	cmd.Env = c.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("spyder %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func ctlStatus(t *testing.T, c *cluster) mgmt.Status {
	t.Helper()
	var st mgmt.Status
	out := ctl(t, c, "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// waitStatus polls `spyder status --json` until ok or the timeout.
// resumeWith waits until workers have registered with a master started
// with --paused, then resumes it: every one of them takes part in the crawl
// (a worker started before its master connects on its next reconnect, up
// to 200 ms later, and a small crawl can be over by then).
func resumeWith(t *testing.T, c *cluster, workers int) {
	t.Helper()
	st := waitStatus(t, c, fmt.Sprintf("%d workers registered", workers), 20*time.Second, func(s mgmt.Status) bool { return len(s.Workers) == workers })
	if st.State != "paused" || st.Dispatched != 0 {
		t.Fatalf("a master started with --paused is %s with %d URLs dispatched", st.State, st.Dispatched)
	}
	if out := ctl(t, c, "resume"); !strings.Contains(out, "dispatch resumed") {
		t.Fatalf("resume: %s", out)
	}
}

func waitStatus(t *testing.T, c *cluster, what string, timeout time.Duration, ok func(mgmt.Status) bool) mgmt.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := ctlStatus(t, c)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last status %+v", what, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOperatorCommands steers a running crawl through the real CLI:
// status (text and JSON), pause (nothing more reaches the site), inject
// (a host that was not in the crawl is crawled, as a new seed), resume
// (the crawl completes) and stop (master and workers exit cleanly). Every
// URL of both sites is fetched once; the status's result count matches the
// JSONL output.
func TestOperatorCommands(t *testing.T) {
	site := startSite(t, 20, 0)
	extra, err := testsite.Start(testsite.Options{IPs: []string{"127.0.0.4"}, OffsiteIP: "127.0.0.9", Pages: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(extra.Close)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	// 10 requests a second (single_host): the crawl lasts long enough to
	// be steered.
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0.1")
	w1, w2 := start(t, "w1", c.Env, "worker"), start(t, "w2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds, "--out", out) // runs until stopped

	st := waitStatus(t, c, "results", 20*time.Second, func(s mgmt.Status) bool { return s.Results >= 5 && len(s.Workers) == 2 })
	if st.State != "running" || st.Frontier != "single_host" || !strings.HasPrefix(st.Master, "master:") {
		t.Fatalf("status: %+v", st)
	}
	text := ctl(t, c, "status")
	for _, want := range []string{"master master:", ": running", "workers: 2", "worker:", "pages/s"} {
		if !strings.Contains(text, want) {
			t.Fatalf("status text lacks %q:\n%s", want, text)
		}
	}

	// Pause: once what was in flight is back, the site sees nothing more.
	if out := ctl(t, c, "pause"); !strings.Contains(out, "dispatch paused (master is paused)") {
		t.Fatalf("pause: %s", out)
	}
	paused := waitStatus(t, c, "in-flight URLs back", 10*time.Second, func(s mgmt.Status) bool { return s.InFlight == 0 })
	if paused.State != "paused" || paused.Queued == 0 {
		t.Fatalf("paused status: %+v", paused)
	}
	served := len(site.Log())
	time.Sleep(time.Second)
	if n := len(site.Log()); n != served {
		t.Fatalf("%d requests reached the site while paused", n-served)
	}
	if st := ctlStatus(t, c); st.Results != paused.Results || st.State != "paused" {
		t.Fatalf("results while paused: %d, then %d (%s)", paused.Results, st.Results, st.State)
	}

	// Inject a host the crawl did not know, while paused; a second inject of
	// the same URL adds nothing.
	// A refused URL is named with its reason, and inject exits 1.
	injectCmd := exec.Command(spyderBin, "inject", extra.Seeds()[0], "not a url", "example.com/x")
	injectCmd.Env = c.Env
	got, err := injectCmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("inject with refused URLs: exit %v, want 1\n%s", err, got)
	}
	for _, want := range []string{"3 URLs sent: 1 new, 0 already known, 2 refused", `refused not a url: bad url: "not a url": scheme "" is not http or https`, "refused example.com/x: bad url: no scheme: \"example.com/x\": write http://example.com/x"} {
		if !strings.Contains(string(got), want) {
			t.Fatalf("inject output lacks %q:\n%s", want, got)
		}
	}
	list := writeFile(t, dir, "more.txt", "# again\n"+extra.Seeds()[0]+"\n")
	// On single_host one clock paces the whole crawl: a host's delay is
	// every host's, and the command says so.
	if got := ctl(t, c, "host", "127.0.0.2", "--delay", "0"); !strings.Contains(got, "note: frontier_class single_host keeps one politeness clock for the whole crawl: this changed every host") {
		t.Fatalf("host --delay on single_host: %s", got)
	}
	if got := ctl(t, c, "inject", "--file", list); !strings.Contains(got, "1 URLs sent: 0 new, 1 already known") {
		t.Fatalf("inject --file: %s", got)
	}

	if out := ctl(t, c, "resume"); !strings.Contains(out, "dispatch resumed (master is running)") {
		t.Fatalf("resume: %s", out)
	}
	done := waitStatus(t, c, "the crawl to finish", 60*time.Second, func(s mgmt.Status) bool {
		return s.Queued == 0 && s.InFlight == 0 && s.Results > paused.Results
	})
	if out := ctl(t, c, "stop"); !strings.Contains(out, "stopping") {
		t.Fatalf("stop: %s", out)
	}
	waitClean(t, m, w1, w2)

	checkCrawl(t, site, "")
	checkCrawl(t, extra, "")
	records := readJSONL(t, out)
	if want := len(site.Expected()) + len(extra.Expected()); len(records) != want || done.Results != int64(want) {
		t.Fatalf("JSONL has %d records, status counted %d results, want %d", len(records), done.Results, want)
	}
	// pause, add, host, add, resume; stop is the shutdown's own event.
	if n := len(m.Find(func(e map[string]any) bool { return e["event"] == "control" })); n != 5 {
		t.Errorf("%d control events logged, want 5", n)
	}
	if down := m.Find(event(events.MasterShutdownRequested)); len(down) != 1 || !strings.HasPrefix(down[0]["reason"].(string), "stop requested by ctl:") {
		t.Errorf("shutdown: %v", down)
	}
	if _, err := exec.Command(spyderBin, "status", "--timeout", "300ms", "--zeromq-mgmt-master", c.MPub, "--zeromq-mgmt-worker", c.MSub).CombinedOutput(); err == nil {
		t.Fatal("status succeeded with no master running")
	}
}

// TestHostBlockAndOneWorkerQuit: `spyder host H --block-for` holds one
// host of a multiple_host crawl while the other goes on; `spyder stop
// --worker ID` stops that worker alone, and the crawl completes with the
// other.
func TestHostBlockAndOneWorkerQuit(t *testing.T) {
	site := startSite(t, 20, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_FRONTIER_MIN_DELAY=0.1")
	w1, w2 := start(t, "w1", c.Env, "worker"), start(t, "w2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds, "--out", out)
	st := waitStatus(t, c, "results", 20*time.Second, func(s mgmt.Status) bool { return s.Results >= 5 && len(s.Workers) == 2 })

	blocked := site.Hosts[1]
	host, _, _ := strings.Cut(blocked, ":")
	if got := ctl(t, c, "host", host, "--block-for", "4s"); !strings.Contains(got, "host "+host+" changed") || strings.Contains(got, "note:") {
		t.Fatalf("host: %s", got)
	}
	at := time.Now()
	time.Sleep(2500 * time.Millisecond)
	var during, other int
	for _, r := range site.Log() {
		if r.At.After(at.Add(500*time.Millisecond)) && r.At.Before(at.Add(2500*time.Millisecond)) {
			if r.Host == blocked {
				during++
			} else {
				other++
			}
		}
	}
	if during != 0 || other == 0 {
		t.Fatalf("while %s was blocked: %d requests to it, %d to the other host", blocked, during, other)
	}
	if out, err := exec.Command(spyderBin, "host", "not a host", "--delay", "1s", "--zeromq-mgmt-master", c.MPub, "--zeromq-mgmt-worker", c.MSub).CombinedOutput(); err == nil || !strings.Contains(string(out), "is not a host name") {
		t.Fatalf("bad host: %v %s", err, out)
	}

	// One worker stops; the other finishes the crawl.
	quitter := st.Workers[0].ID
	if got := ctl(t, c, "stop", "--worker", quitter); !strings.Contains(got, "the others go on") {
		t.Fatalf("stop --worker: %s", got)
	}
	var stopped, running *proc
	for _, w := range []*proc{w1, w2} {
		if strings.HasSuffix(quitter, ":"+strconv.Itoa(w.Pid())) {
			stopped = w
		} else {
			running = w
		}
	}
	if stopped == nil {
		t.Fatalf("no worker process is %s", quitter)
	}
	if code := stopped.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("the stopped worker exited %d", code)
	}
	done := waitStatus(t, c, "the crawl to finish", 60*time.Second, func(s mgmt.Status) bool { return s.Queued == 0 && s.InFlight == 0 })
	live := 0
	for _, w := range done.Workers {
		if w.State == "active" {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live workers after one was stopped: %+v", live, done.Workers)
	}
	ctl(t, c, "stop")
	waitClean(t, m, running)
	checkCrawl(t, site, out)
}
