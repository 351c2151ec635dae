package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/testsite"
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

// cluster is the environment shared by a master and its workers.
type cluster struct {
	env  []string
	push string
	sub  string
	mpub string
	msub string
}

func newCluster(t *testing.T, extra ...string) *cluster {
	eps := testsite.FreeEndpoints(t, 4)
	c := &cluster{push: eps[0], sub: eps[1], mpub: eps[2], msub: eps[3]}
	c.env = append(os.Environ(),
		"SPYDER_ZEROMQ_MASTER_PUSH="+c.push,
		"SPYDER_ZEROMQ_MASTER_SUB="+c.sub,
		"SPYDER_ZEROMQ_MGMT_MASTER="+c.mpub,
		"SPYDER_ZEROMQ_MGMT_WORKER="+c.msub,
		"SPYDER_LOG_FORMAT=json",
		"SPYDER_HEARTBEAT_INTERVAL=0.2",
		"SPYDER_FRONTIER_MIN_DELAY=0",
		"SPYDER_FRONTIER_CRAWL_DELAY_FACTOR=0",
		"SPYDER_MASTER_PROGRESS_INTERVAL=1",
		"SPYDER_REQUEST_TIMEOUT=5",
		"SPYDER_MASTER_LEASE_TIMEOUT=10",
		"SPYDER_STATE_DIR="+t.TempDir(),
		// Most sites here are two hosts with politeness off, crawled with
		// many requests in flight: single_host. Tests of per-host
		// politeness, and of the default, set multiple_host after this.
		"SPYDER_FRONTIER_CLASS=single_host",
	)
	c.env = append(c.env, extra...)
	return c
}

// proc is a running spyder process with its JSON log lines collected.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu     sync.Mutex
	lines  []map[string]any
	raw    bytes.Buffer
	notify chan struct{}
}

func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, env, spyderBin, args...)
}

// startIn is start in the working directory dir.
func startIn(t *testing.T, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	return startCmdIn(t, dir, name, env, spyderBin, args...)
}

// startCmd runs any program with its stderr collected like spyder's.
func startCmd(t *testing.T, name string, env []string, program string, args ...string) *proc {
	t.Helper()
	return startCmdIn(t, "", name, env, program, args...)
}

func startCmdIn(t *testing.T, dir, name string, env []string, program string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	p.cmd = exec.Command(program, args...)
	p.cmd.Env = env
	p.cmd.Dir = dir
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			line := sc.Bytes()
			var m map[string]any
			_ = json.Unmarshal(line, &m)
			p.mu.Lock()
			p.raw.Write(line)
			p.raw.WriteByte('\n')
			if m != nil {
				p.lines = append(p.lines, m)
			}
			p.mu.Unlock()
			select {
			case p.notify <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		<-readDone
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- %s log ----\n%s", p.name, p.log())
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		// A Go process dumps every goroutine's stack on SIGQUIT: the log
		// printed with the failure then shows where it hung.
		p.signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
		t.Fatalf("%s did not exit within %v (sent SIGQUIT for a stack dump, in its log below)", p.name, timeout)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

// find returns the log records for which match is true.
func (p *proc) find(match func(map[string]any) bool) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, l := range p.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits until a log record matches.
func (p *proc) waitFor(t *testing.T, what string, timeout time.Duration, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := p.find(match); len(got) > 0 {
			return got[0]
		}
		select {
		case <-p.notify:
		case <-p.done:
			if got := p.find(match); len(got) > 0 {
				return got[0]
			}
			t.Fatalf("%s exited before %s", p.name, what)
		case <-deadline:
			t.Fatalf("%s: no %s within %v", p.name, what, timeout)
		}
	}
}

func event(name string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["event"] == name }
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

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
	if code := master.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	for _, w := range workers {
		if code := w.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("%s exit code %d", w.name, code)
		}
	}
}
