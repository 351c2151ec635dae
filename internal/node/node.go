// Package node runs a master and N workers on one machine as child
// processes of the spyder binary and supervises them (spyder node), after
// Crossbar.io's node controller: a child is ready only when it says so (its
// SPYDER:*_READY event), a crashed child is restarted with back-off until
// it has failed RestartLimit times in a row without reaching ready, and
// stopping is TERM, then KILL after a grace period.
package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/events"
)

// Options configures a node.
type Options struct {
	Exe         string   // the spyder binary the children run
	Workers     int      // worker children
	SettingArgs []string // passed to every child: the settings flags and --config
	MasterArgs  []string // passed to the master only
	// WorkerArgs returns what worker i (from 1) gets besides SettingArgs.
	WorkerArgs   func(i int) []string
	Env          []string
	RestartLimit int           // failures in a row before the node gives up
	Grace        time.Duration // after TERM, how long before KILL
	Stderr       io.Writer     // children's logs go here, line by line
	// ChildLog renders a child's JSON record as the node's own (a console
	// writer on a terminal); lines that are not records go to Stderr.
	ChildLog io.Writer
	// AfterRecord, when set, returns text to print after a child's record
	// (the master's summary as a table on a terminal), or "".
	AfterRecord func(record string) string
	// Levels is the log level asked for each role's records (master,
	// worker). The children run at info at least, whatever is asked: the
	// node waits for their ready events, which are info records (at warn a
	// node waited for its master for ever); records under the asked level
	// are read for those events and not passed on. A role missing passes
	// everything on.
	Levels map[string]zerolog.Level
	Log    zerolog.Logger
}

// quieter reports whether record (a child's JSON line) is under the level
// asked for role, and so read by the node only.
func (o Options) quieter(role, record string) bool {
	want, ok := o.Levels[role]
	if !ok {
		return false
	}
	const key = `"level":"`
	i := strings.Index(record, key)
	if i < 0 {
		return false
	}
	rest := record[i+len(key):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return false
	}
	lvl, err := zerolog.ParseLevel(rest[:j])
	return err == nil && lvl < want
}

// child is one supervised process.
type child struct {
	name     string // master, w1, w2, ...
	role     string
	args     []string
	cmd      *exec.Cmd
	ready    bool
	failures int // exits without reaching ready, in a row
	backoff  time.Duration
	exited   bool
	code     int
	last     []string // its last log lines, for the failure message
}

type childEvent struct {
	c     *child
	cmd   *exec.Cmd
	exit  bool // the process ended with code; otherwise line is a log line
	code  int
	line  string
	ready bool // line is the child's ready event
}

// ErrFailed is wrapped by a node's failure.
var ErrFailed = errors.New("node failed")

// ErrConfig is returned when a child refuses its settings (exits 2 before
// it is ready): the node stops at once rather than restart it on the same
// settings.
var ErrConfig = errors.New("node stopped: bad configuration")

// exitConfig is the exit code of a spyder process that refused its settings.
const exitConfig = 2

// lateWorkerTerm is how long the workers have to quit on their own after
// their master finished a crawl before the node sends them TERM.
const lateWorkerTerm = 2 * time.Second

// Supervise runs the children until the master exits (the crawl is
// over or was stopped), restarting crashed children. The first signal
// drains (the master tells its workers to quit); a second kills every child
// at once.
//
// The children run in a process group of their own: a Ctrl-C on the
// terminal reaches the node alone, which passes one TERM to the master.
// (In the node's group each child took the terminal's SIGINT and then the
// node's TERM as a second signal, and exited at once with 1.) Should the
// node itself die, its children get TERM (Pdeathsig) and drain.
func Supervise(sigs <-chan os.Signal, o Options) error {
	childEvents := make(chan childEvent, 64)
	var outMu sync.Mutex
	children := []*child{{name: "master", role: crawluri.RoleMaster, args: append(append([]string{"master"}, o.SettingArgs...), o.MasterArgs...), backoff: time.Second}}
	for i := 1; i <= o.Workers; i++ {
		args := append([]string{"worker"}, o.SettingArgs...)
		if o.WorkerArgs != nil {
			args = append(args, o.WorkerArgs(i)...)
		}
		children = append(children, &child{name: fmt.Sprintf("w%d", i), role: crawluri.RoleWorker, args: args, backoff: time.Second})
	}
	start := func(c *child) error {
		cmd := exec.Command(o.Exe, c.args...)
		cmd.Env = o.Env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		cmd.Stdout = o.Stderr
		pipe, err := cmd.StderrPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", c.name, err)
		}
		c.cmd, c.ready, c.exited = cmd, false, false
		o.Log.Info().Str("child", c.name).Int("pid", cmd.Process.Pid).Msg("child started")
		readyMark := events.ReadyOf(c.role).String()
		go func() {
			sc := bufio.NewScanner(pipe)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				outMu.Lock()
				switch {
				case !strings.HasPrefix(line, "{"):
					fmt.Fprintln(o.Stderr, line)
				case o.quieter(c.role, line):
					// Under the asked level: read for its events only.
				default:
					if _, err := o.ChildLog.Write([]byte(line + "\n")); err != nil {
						fmt.Fprintln(o.Stderr, line) // not a record after all
					} else if o.AfterRecord != nil {
						if extra := o.AfterRecord(line); extra != "" {
							fmt.Fprint(o.Stderr, extra)
						}
					}
				}
				outMu.Unlock()
				childEvents <- childEvent{c: c, cmd: cmd, line: line, ready: strings.Contains(line, readyMark)}
			}
			err := cmd.Wait()
			code := 0
			if err != nil {
				code = -1
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode() // -1 when killed by a signal
				}
			}
			childEvents <- childEvent{c: c, cmd: cmd, exit: true, code: code}
		}()
		return nil
	}
	// The master first; the workers once it is ready (they would find no
	// master, and a port the master needs may be one they take).
	if err := start(children[0]); err != nil {
		return err
	}
	workersStarted := false

	stopping := false
	var stopErr error
	var killAt, termAt <-chan time.Time
	shutdown := func(reason string, err error) {
		if stopping {
			return
		}
		stopping, stopErr = true, err
		o.Log.Info().Stringer("event", events.NodeShutdownRequested).Str("reason", reason).Dur("kill_grace", o.Grace).Msg("node stopping its children")
		// The master first: it drains and tells its workers to quit. With
		// no master running, nobody will: they get TERM too.
		master := children[0]
		for _, c := range children {
			if c.cmd != nil && !c.exited && (c == master || master.exited) {
				_ = c.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		killAt = time.After(o.Grace)
	}
	restartCh := make(chan *child, len(children))
	for {
		running := 0
		for _, c := range children {
			if c.cmd != nil && !c.exited {
				running++
			}
		}
		if stopping && running == 0 {
			return stopErr
		}
		select {
		case sig := <-sigs:
			if !stopping {
				o.Log.Info().Str("signal", sig.String()).Msg("shutdown requested; send the signal again to stop every child at once")
				shutdown("signal", nil)
				continue
			}
			o.Log.Warn().Str("signal", sig.String()).Msg("second signal: killing every child now")
			for _, c := range children {
				if c.cmd != nil && !c.exited {
					_ = c.cmd.Process.Kill()
				}
			}
			stopErr = fmt.Errorf("%w: stopped at once by a second %s", ErrFailed, sig)
		case <-killAt:
			for _, c := range children {
				if c.cmd != nil && !c.exited {
					o.Log.Warn().Str("child", c.name).Msg("child still running after the grace period; killing it")
					_ = c.cmd.Process.Kill()
				}
			}
			if stopErr == nil {
				stopErr = fmt.Errorf("%w: children had to be killed after %v", ErrFailed, o.Grace)
			}
			killAt = nil
		case <-termAt:
			for _, w := range children {
				if w.cmd != nil && !w.exited {
					o.Log.Info().Str("child", w.name).Msg("worker still running after its master finished; sending TERM")
					_ = w.cmd.Process.Signal(syscall.SIGTERM)
				}
			}
			termAt = nil
		case c := <-restartCh:
			if stopping {
				continue
			}
			if err := start(c); err != nil {
				shutdown("restart failed", err)
			}
		case ev := <-childEvents:
			c := ev.c
			if ev.cmd != c.cmd {
				continue // a line of a previous run of this child
			}
			if !ev.exit {
				c.last = append(c.last, ev.line)
				if len(c.last) > 5 {
					c.last = c.last[1:]
				}
				if ev.ready && !c.ready {
					c.ready, c.failures, c.backoff = true, 0, time.Second
					o.Log.Info().Str("child", c.name).Int("pid", c.cmd.Process.Pid).Msg("child ready")
					if c.role == crawluri.RoleMaster && !workersStarted && !stopping {
						workersStarted = true
						for _, w := range children[1:] {
							if err := start(w); err != nil {
								shutdown("start failed", err)
								break
							}
						}
						o.Log.Info().Stringer("event", events.NodeReady).Int("workers", o.Workers).Msg("node started its children")
					}
				}
				continue
			}
			c.exited, c.code = true, ev.code
			switch {
			case stopping:
				o.Log.Info().Str("child", c.name).Int("exit_code", ev.code).Msg("child stopped")
				if ev.code != 0 && stopErr == nil {
					stopErr = fmt.Errorf("%w: %s exited with code %d", ErrFailed, c.name, ev.code)
				}
				if c.role == crawluri.RoleMaster {
					for _, w := range children { // the master is gone: nobody will tell them to quit
						if w.cmd != nil && !w.exited {
							_ = w.cmd.Process.Signal(syscall.SIGTERM)
						}
					}
				}
			case c.role == crawluri.RoleMaster && ev.code == 0:
				// The crawl is over (--until-done) or an operator stopped it.
				// The master told its registered workers to quit and waited
				// for them; a worker still connecting then never heard it
				// and would wait for the next master. Nothing is in flight
				// (the master drained), so TERM stops every worker cleanly;
				// it comes a moment later, so that a worker that has just
				// started has its signal handler in place.
				o.Log.Info().Str("child", c.name).Dur("term_in", lateWorkerTerm).Msg("master finished; the workers quit, or get TERM")
				stopping = true
				termAt = time.After(lateWorkerTerm)
				killAt = time.After(o.Grace)
			case ev.code == 0 && c.role == crawluri.RoleWorker:
				o.Log.Info().Str("child", c.name).Msg("worker exited cleanly; not restarted")
			case ev.code == exitConfig && !c.ready:
				// A child refused its settings: a restart reads the same ones.
				shutdown("bad configuration", fmt.Errorf("%w: %s refused its settings (exit code 2); its last lines:\n%s",
					ErrConfig, c.name, strings.Join(c.last, "\n")))
			default:
				if !c.ready {
					c.failures++
				}
				o.Log.Warn().Str("event", "child.crashed").Str("child", c.name).Int("exit_code", ev.code).Bool("was_ready", c.ready).
					Int("failures_in_a_row", c.failures).Msg("child crashed")
				if c.failures >= o.RestartLimit {
					shutdown("restart limit", fmt.Errorf("%w: %s failed %d times in a row without becoming ready (restart limit %d); its last lines:\n%s",
						ErrFailed, c.name, c.failures, o.RestartLimit, strings.Join(c.last, "\n")))
					continue
				}
				wait := c.backoff
				c.backoff = min(c.backoff*2, 30*time.Second)
				o.Log.Info().Str("child", c.name).Dur("in", wait).Msg("restarting child")
				time.AfterFunc(wait, func() { restartCh <- c })
			}
		}
	}
}
