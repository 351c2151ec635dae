// measure.go: running one crawler as a process tree and measuring it: wall
// time, CPU summed over every process of the tree, peak resident memory of
// the tree (sampled).

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is what one run cost.
type usage struct {
	start   time.Time
	wall    time.Duration
	cpu     time.Duration // user + system of every process of the tree
	peakRSS int64         // bytes, the tree's sum at its highest sample (at least the crawler's own peak)
	// roleCPU is the CPU of each spyder process by its command (master,
	// worker, node), as last sampled before it ended: within a sample
	// interval of the truth.
	roleCPU map[string]time.Duration
}

// runMeasured runs cmd in a process group of its own and waits for it,
// at most timeout (then the group is killed and an error returned); the
// crawler is killed too should this process die first.
//
// CPU comes from getrusage(RUSAGE_CHILDREN) before and after: it counts
// every descendant that was waited for, which is all of them when the
// crawler waits for its own children (spyder node does) — and nothing
// else, as this process waits for no other child meanwhile.
func runMeasured(cmd *exec.Cmd, timeout time.Duration) (usage, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var before syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &before); err != nil {
		return usage{}, fmt.Errorf("getrusage: %w", err)
	}
	u := usage{start: time.Now()}
	if err := cmd.Start(); err != nil {
		return usage{}, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	pid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var runErr error
	lastCPU := map[int]procCPU{}
wait:
	for {
		select {
		case runErr = <-done:
			break wait
		case <-tick.C:
			if rss := treeSample(pid, lastCPU); rss > u.peakRSS {
				u.peakRSS = rss
			}
		case <-deadline.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-done
			return u, fmt.Errorf("%s did not finish within %s (killed)", cmd.Path, timeout)
		}
	}
	u.wall = time.Since(u.start)
	// A crawl shorter than a sample interval has none: the largest process's
	// own peak is the floor.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.peakRSS = max(u.peakRSS, ru.Maxrss*1024)
	}
	u.roleCPU = map[string]time.Duration{}
	for _, p := range lastCPU {
		if p.role != "" {
			u.roleCPU[p.role] += p.cpu
		}
	}
	// Whatever the crawler left behind in its group goes too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	var after syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &after); err != nil {
		return u, fmt.Errorf("getrusage: %w", err)
	}
	u.cpu = tvDur(after.Utime) + tvDur(after.Stime) - tvDur(before.Utime) - tvDur(before.Stime)
	if runErr != nil {
		return u, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), runErr)
	}
	return u, nil
}

func tvDur(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

var pageSize = int64(os.Getpagesize())

// procCPU is one process's CPU so far, and its role when it is spyder's.
type procCPU struct {
	role string
	cpu  time.Duration
}

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// treeSample sums the resident memory of root and its descendants, and
// records each one's CPU so far in cpu.
func treeSample(root int, cpu map[int]procCPU) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	used := map[int]time.Duration{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): comm may hold
		// spaces, so the fields are counted after ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		children[ppid] = append(children[ppid], pid)
		utime, _ := strconv.ParseInt(string(f[11]), 10, 64)
		stime, _ := strconv.ParseInt(string(f[12]), 10, 64)
		used[pid] = time.Duration(utime+stime) * clockTick
	}
	var total int64
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		stack = append(stack, children[pid]...)
		prev, known := cpu[pid]
		if !known {
			prev.role = spyderRole(pid) // once: a process keeps its role
		}
		cpu[pid] = procCPU{role: prev.role, cpu: used[pid]}
		statm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		if err != nil {
			continue
		}
		f := bytes.Fields(statm)
		if len(f) < 2 {
			continue
		}
		pages, _ := strconv.ParseInt(string(f[1]), 10, 64)
		total += pages * pageSize
	}
	return total
}

// spyderRole is "master", "worker" or "node" for a spyder process (its
// first argument), "" for any other.
func spyderRole(pid int) string {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	args := strings.Split(string(cmdline), "\x00")
	if len(args) < 2 || !strings.Contains(filepath.Base(args[0]), "spyder") {
		return ""
	}
	switch args[1] {
	case "master", "worker", "node":
		return args[1]
	}
	return ""
}
