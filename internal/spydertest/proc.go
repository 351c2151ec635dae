// proc.go: a process of a binary (spyder, or a user's own) run by a test,
// its stderr collected, stopped by pid when the test ends.

package spydertest

import (
	"io"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Proc is a running process with its log.
type Proc struct {
	*Log
	Cmd *exec.Cmd
	err error
}

// Run starts program with args and env (the whole environment) and
// collects its stderr. The process is killed, if still running, when the
// test ends, and its output is shown when the test failed.
func Run(t testing.TB, name string, env []string, program string, args ...string) *Proc {
	t.Helper()
	return RunIn(t, "", name, env, program, args...)
}

// RunIn is Run in the working directory dir.
func RunIn(t testing.TB, dir, name string, env []string, program string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Log: newLog(name), Cmd: exec.Command(program, args...)}
	p.Cmd.Env, p.Cmd.Dir = env, dir
	stderr, err := p.Cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_, _ = io.Copy(p.Log, stderr)
		p.err = p.Cmd.Wait()
		p.ended()
	}()
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default:
			_ = p.Cmd.Process.Kill()
			<-p.Done()
		}
		if t.Failed() {
			t.Logf("---- %s log ----\n%s", p.Name(), p.Text())
		}
	})
	return p
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) { _ = p.Cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit code. Past
// timeout it sends SIGQUIT (a Go process then prints every goroutine's
// stack, shown with the failure) and fails the test.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(timeout):
		p.Signal(syscall.SIGQUIT)
		select {
		case <-p.Done():
		case <-time.After(2 * time.Second):
		}
		t.Fatalf("%s did not exit within %v (sent SIGQUIT for a stack dump, in its log below)", p.Name(), timeout)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.Name(), p.err)
	return -1
}
