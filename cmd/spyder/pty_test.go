// pty_test.go: spyder on a pseudo-terminal, typed at as a person does.

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// termProc is a spyder process run on a pseudo-terminal, as a person runs
// it: the terminal is its controlling terminal and its stdin, stdout and
// stderr, and what it prints is read from the terminal's other side.
type termProc struct {
	cmd  *exec.Cmd
	ptm  *os.File // the terminal's master side: type here, read the screen here
	done chan struct{}
	err  error

	mu  sync.Mutex
	out bytes.Buffer
}

// startInTerminal runs spyder with args on a new pseudo-terminal in a
// session of its own (so the terminal's Ctrl-C goes to its process group).
func startInTerminal(t *testing.T, dir string, env []string, args ...string) *termProc {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A wide terminal: the console lines are long.
	_ = unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 250})
	p := &termProc{ptm: ptm, done: make(chan struct{})}
	p.cmd = exec.Command(spyderBin, args...)
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = pts, pts, pts
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 32<<10)
		for {
			n, err := ptm.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return // EIO once the last process holding the terminal exits
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		select {
		case <-readDone:
		case <-time.After(5 * time.Second):
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		ptm.Close()
		if t.Failed() {
			t.Logf("---- terminal ----\n%s", p.screen())
		}
	})
	return p
}

// screen is what the terminal showed, without its colours, its lines
// ending in \n (a terminal writes \r\n).
func (p *termProc) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(ansiColour.ReplaceAllString(p.out.String(), ""), "\r\n", "\n")
}

var ansiColour = regexp.MustCompile("\x1b\\[[0-9;]*m")

// typeKeys writes to the terminal as a keyboard does (\x03 is Ctrl-C).
func (p *termProc) typeKeys(t *testing.T, keys string) {
	t.Helper()
	if _, err := p.ptm.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

// waitScreen waits until the terminal shows want.
func (p *termProc) waitScreen(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(p.screen(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal did not show %q within %v", want, timeout)
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *termProc) Wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		t.Fatalf("did not exit within %v", timeout)
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}
