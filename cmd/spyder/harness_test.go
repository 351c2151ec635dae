// harness_test.go: the binary the tests run (built in TestMain) and the harness's names for this package.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/spydertest"
)

// spyderBin is the binary the end-to-end tests run, built once in TestMain.
var spyderBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spyder-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	spyderBin = filepath.Join(dir, "spyder")
	args := []string{"build", "-o", spyderBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building spyder:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The harness is internal/spydertest; these name its pieces for this
// package's tests, which run the binary built in TestMain.
type (
	cluster = spydertest.Cluster
	proc    = spydertest.Proc
)

func newCluster(t *testing.T, extra ...string) *cluster { return spydertest.NewCluster(t, extra...) }

// start runs the spyder binary.
func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	return spydertest.Run(t, name, env, spyderBin, args...)
}

// startIn is start in the working directory dir.
func startIn(t *testing.T, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	return spydertest.RunIn(t, dir, name, env, spyderBin, args...)
}

// startCmd runs any program with its stderr collected like spyder's.
func startCmd(t *testing.T, name string, env []string, program string, args ...string) *proc {
	t.Helper()
	return spydertest.Run(t, name, env, program, args...)
}

// startCmdIn is startCmd in the working directory dir.
func startCmdIn(t *testing.T, dir, name string, env []string, program string, args ...string) *proc {
	t.Helper()
	return spydertest.RunIn(t, dir, name, env, program, args...)
}

// event matches the records of a lifecycle event.
func event(name events.Name) spydertest.Match { return spydertest.Event(name) }

// readJSONL reads the master's output file.
func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("JSONL line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitClean waits for the master, then each worker, to exit with code 0.
func waitClean(t *testing.T, master *proc, workers ...*proc) {
	t.Helper()
	if code := master.Wait(t, 120*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	for _, w := range workers {
		if code := w.Wait(t, 20*time.Second); code != 0 {
			t.Fatalf("%s exit code %d", w.Name(), code)
		}
	}
}

// waitUntil polls cond every 20 ms until it holds, and fails the test
// naming what it waited for after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
	}
}
