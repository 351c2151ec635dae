// e2e_python_test.go: the Python worker written from PROTOCOL.md crawls with a Go master.

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPythonWorkerFromProtocol runs the master against the Python worker
// of examples/python-worker, written from PROTOCOL.md alone, next to a Go
// worker: the crawl completes with every page fetched exactly once.
func TestPythonWorkerFromProtocol(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import zmq").Run(); err != nil {
		t.Fatalf("this test needs Debian's python3-zmq (apt-get install python3-zmq; .ci/run and scripts/demo.sh install it): %v", err)
	}
	site := startSite(t, 60, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t)
	script, _ := filepath.Abs("../../examples/python-worker/spyder_worker.py")

	py := startCmd(t, "python-worker", c.Env, python, script, "--push", c.Push, "--sub", c.Sub,
		"--mgmt-master", c.MPub, "--mgmt-worker", c.MSub, "--heartbeat", "0.2", "--user-agent", "spyder-python-worker/1")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", out)
	if code := m.Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	if code := py.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("python worker exit code %d", code)
	}
	checkCrawl(t, site, out)
	for _, r := range site.Log() {
		if r.UA != "spyder-python-worker/1" {
			t.Fatalf("request %s not from the Python worker: %q", r.Path, r.UA)
		}
	}
	if len(m.Find(event("quit.ack"))) != 1 {
		t.Fatal("no quit.ack from the Python worker")
	}
}
