package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
)

// `spyder node` runs a master and N workers on one machine as child
// processes of this binary and supervises them, after Crossbar.io's node
// controller: a child is ready only when it says so (its SPYDER:*_READY
// event), a crashed child is restarted with back-off until it has failed
// restart_limit times in a row without reaching ready, and stopping is
// TERM, then KILL after a grace period. The node exits 0 when the crawl
// ended cleanly and 1 otherwise.

// nodeOptions configures a node.
type nodeOptions struct {
	exe         string   // this binary
	workers     int      // worker children
	settingArgs []string // passed to every child: the settings flags and --config
	masterArgs  []string // passed to the master only
	// workerArgs returns what worker i (from 1) gets besides settingArgs.
	workerArgs   func(i int) []string
	env          []string
	restartLimit int           // failures in a row before the node gives up
	grace        time.Duration // after TERM, how long before KILL
	stderr       io.Writer     // children's logs go here, line by line
	// childLog renders a child's JSON record as the node's own (a console
	// writer on a terminal); lines that are not records go to stderr.
	childLog io.Writer
	console  bool // childLog is for a person: the master's summary is shown as a table
	log      zerolog.Logger
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

func runNode(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder node", stdout, stderr)
	workers := sf.fs.Int("workers", 2, "worker processes to run and supervise")
	restartLimit := sf.fs.Int("restart-limit", 5, "a child that fails this many times in a row without becoming ready stops the node (exit 1)")
	grace := sf.fs.Duration("kill-grace", 0, "after TERM, how long before KILL (default: master_shutdown_grace + worker_shutdown_grace + 5s)")
	untilDone := sf.fs.Bool("until-done", false, "the master exits (and the node with it) once nothing is queued or in flight")
	paused := sf.fs.Bool("paused", false, "the master starts with dispatch paused; `spyder resume` sends the first URL")
	sf.alias("seeds", "seeds_file", "file of seed URLs, one per line (the seeds_file setting)")
	sf.alias("out", "output_jsonl", "JSON Lines output (the output_jsonl setting)")
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	if *workers < 1 || *restartLimit < 1 {
		return configError(stderr, fmt.Errorf("%w: --workers and --restart-limit must be at least 1", errUsage))
	}
	if err := checkMaster(s); err != nil {
		return configError(stderr, err)
	}
	if err := checkWorker(s); err != nil {
		return configError(stderr, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, fmt.Errorf("finding this binary to run the children: %w", err))
	}
	opts := nodeOptions{
		exe: exe, workers: *workers, env: environ, restartLimit: *restartLimit, grace: *grace, stderr: stderr,
		log:      newLogger(stderr, s.LogFormat, s.LogLevelMaster, "node", crawluri.Identity("node")),
		childLog: logOutput(stderr, s.LogFormat),
		console:  isConsole(stderr, s.LogFormat),
	}
	if opts.grace <= 0 {
		opts.grace = s.MasterShutdownGrace + s.WorkerShutdownGrace + 5*time.Second
	}
	// Every child gets the node's settings: its own flags are left out.
	sf.fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "workers", "restart-limit", "kill-grace", "until-done", "paused", "seeds", "out":
			return
		}
		if list, err := sf.fs.GetStringArray(f.Name); err == nil {
			for _, v := range list {
				opts.settingArgs = append(opts.settingArgs, "--"+f.Name+"="+v)
			}
			return
		}
		opts.settingArgs = append(opts.settingArgs, "--"+f.Name+"="+f.Value.String())
	})
	if s.MetricsListen != "" {
		perChild, err := nodeMetricsPorts(s.MetricsListen, *workers)
		if err != nil {
			return configError(stderr, err)
		}
		opts.workerArgs = func(i int) []string { return []string{"--metrics-listen=" + perChild[i]} }
	}
	if *untilDone {
		opts.masterArgs = append(opts.masterArgs, "--until-done")
	}
	if *paused {
		opts.masterArgs = append(opts.masterArgs, "--paused")
	}
	if s.SeedsFile != "" {
		opts.masterArgs = append(opts.masterArgs, "--seeds", s.SeedsFile)
	}
	if s.OutputJSONL != "" {
		opts.masterArgs = append(opts.masterArgs, "--out", s.OutputJSONL)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := superviseNode(sigs, opts); err != nil {
		opts.log.Error().Err(err).Msg("node stopped with an error")
		return exitFail
	}
	opts.log.Info().Str("event", "SPYDER:NODE_DOWN").Bool("clean", true).Msg("node stopped: every child exited cleanly")
	return exitOK
}

// nodeMetricsPorts gives each child of a node its own metrics_listen
// address: with a fixed port P, the master serves on P and worker i on
// P+i (they all bound P, and the workers crashed); with port 0 each picks
// a free one. Every fixed port is checked free before anything starts.
func nodeMetricsPorts(listen string, workers int) ([]string, error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics_listen: %v", settings.ErrInvalid, err)
	}
	base, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics_listen: port %q is not a number", settings.ErrInvalid, portText)
	}
	addrs := make([]string, workers+1)
	for i := range addrs {
		if base == 0 {
			addrs[i] = listen
			continue
		}
		addrs[i] = net.JoinHostPort(host, strconv.Itoa(base+i))
		ln, err := net.Listen("tcp", addrs[i])
		if err != nil {
			return nil, fmt.Errorf("%w: metrics_listen: under spyder node the master serves metrics on port %d and worker i on %d+i, and %s is taken (%v); choose another port, or 0 for any free one",
				settings.ErrInvalid, base, base, addrs[i], err)
		}
		ln.Close()
	}
	return addrs, nil
}

// errNodeFailed is wrapped by a node's failure.
var errNodeFailed = errors.New("node failed")

// superviseNode runs the children until the master exits (the crawl is
// over or was stopped), restarting crashed children. The first signal
// drains (the master tells its workers to quit); a second kills every child
// at once.
//
// The children run in a process group of their own: a Ctrl-C on the
// terminal reaches the node alone, which passes one TERM to the master.
// (In the node's group each child took the terminal's SIGINT and then the
// node's TERM as a second signal, and exited at once with 1.) Should the
// node itself die, its children get TERM (Pdeathsig) and drain.
func superviseNode(sigs <-chan os.Signal, o nodeOptions) error {
	events := make(chan childEvent, 64)
	var outMu sync.Mutex
	children := []*child{{name: "master", role: crawluri.RoleMaster, args: append(append([]string{"master"}, o.settingArgs...), o.masterArgs...), backoff: time.Second}}
	for i := 1; i <= o.workers; i++ {
		args := append([]string{"worker"}, o.settingArgs...)
		if o.workerArgs != nil {
			args = append(args, o.workerArgs(i)...)
		}
		children = append(children, &child{name: fmt.Sprintf("w%d", i), role: crawluri.RoleWorker, args: args, backoff: time.Second})
	}
	start := func(c *child) error {
		cmd := exec.Command(o.exe, c.args...)
		cmd.Env = o.env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		cmd.Stdout = o.stderr
		pipe, err := cmd.StderrPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", c.name, err)
		}
		c.cmd, c.ready, c.exited = cmd, false, false
		o.log.Info().Str("child", c.name).Int("pid", cmd.Process.Pid).Msg("child started")
		readyMark := "SPYDER:" + strings.ToUpper(c.role) + "_READY"
		go func() {
			sc := bufio.NewScanner(pipe)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				outMu.Lock()
				if !strings.HasPrefix(line, "{") {
					fmt.Fprintln(o.stderr, line)
				} else if _, err := o.childLog.Write([]byte(line + "\n")); err != nil {
					fmt.Fprintln(o.stderr, line) // not a record after all
				} else if o.console && strings.Contains(line, `"SPYDER:CRAWL_SUMMARY"`) {
					var rec struct{ Summary *master.Summary }
					if json.Unmarshal([]byte(line), &rec) == nil && rec.Summary != nil {
						fmt.Fprint(o.stderr, "\n"+rec.Summary.Table()+"\n")
					}
				}
				outMu.Unlock()
				events <- childEvent{c: c, cmd: cmd, line: line, ready: strings.Contains(line, readyMark)}
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
			events <- childEvent{c: c, cmd: cmd, exit: true, code: code}
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
	var killAt <-chan time.Time
	shutdown := func(reason string, err error) {
		if stopping {
			return
		}
		stopping, stopErr = true, err
		o.log.Info().Str("event", "SPYDER:NODE_SHUTDOWN_REQUESTED").Str("reason", reason).Dur("kill_grace", o.grace).Msg("node stopping its children")
		// The master first: it drains and tells its workers to quit. With
		// no master running, nobody will: they get TERM too.
		master := children[0]
		for _, c := range children {
			if c.cmd != nil && !c.exited && (c == master || master.exited) {
				_ = c.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		killAt = time.After(o.grace)
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
				o.log.Info().Str("signal", sig.String()).Msg("shutdown requested; send the signal again to stop every child at once")
				shutdown("signal", nil)
				continue
			}
			o.log.Warn().Str("signal", sig.String()).Msg("second signal: killing every child now")
			for _, c := range children {
				if c.cmd != nil && !c.exited {
					_ = c.cmd.Process.Kill()
				}
			}
			stopErr = fmt.Errorf("%w: stopped at once by a second %s", errNodeFailed, sig)
		case <-killAt:
			for _, c := range children {
				if c.cmd != nil && !c.exited {
					o.log.Warn().Str("child", c.name).Msg("child still running after the grace period; killing it")
					_ = c.cmd.Process.Kill()
				}
			}
			if stopErr == nil {
				stopErr = fmt.Errorf("%w: children had to be killed after %v", errNodeFailed, o.grace)
			}
			killAt = nil
		case c := <-restartCh:
			if stopping {
				continue
			}
			if err := start(c); err != nil {
				shutdown("restart failed", err)
			}
		case ev := <-events:
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
					o.log.Info().Str("child", c.name).Int("pid", c.cmd.Process.Pid).Msg("child ready")
					if c.role == crawluri.RoleMaster && !workersStarted && !stopping {
						workersStarted = true
						for _, w := range children[1:] {
							if err := start(w); err != nil {
								shutdown("start failed", err)
								break
							}
						}
						o.log.Info().Str("event", "SPYDER:NODE_READY").Int("workers", o.workers).Msg("node started its children")
					}
				}
				continue
			}
			c.exited, c.code = true, ev.code
			switch {
			case stopping:
				o.log.Info().Str("child", c.name).Int("exit_code", ev.code).Msg("child stopped")
				if ev.code != 0 && stopErr == nil {
					stopErr = fmt.Errorf("%w: %s exited with code %d", errNodeFailed, c.name, ev.code)
				}
				if c.role == crawluri.RoleMaster {
					for _, w := range children { // the master is gone: nobody will tell them to quit
						if w.cmd != nil && !w.exited {
							_ = w.cmd.Process.Signal(syscall.SIGTERM)
						}
					}
				}
			case c.role == crawluri.RoleMaster && ev.code == 0:
				// The crawl is over (--until-done) or an operator stopped it;
				// the master has told its workers to quit.
				o.log.Info().Str("child", c.name).Msg("master finished; waiting for the workers")
				stopping = true
				killAt = time.After(o.grace)
			case ev.code == 0 && c.role == crawluri.RoleWorker:
				o.log.Info().Str("child", c.name).Msg("worker exited cleanly; not restarted")
			default:
				if !c.ready {
					c.failures++
				}
				o.log.Warn().Str("event", "child.crashed").Str("child", c.name).Int("exit_code", ev.code).Bool("was_ready", c.ready).
					Int("failures_in_a_row", c.failures).Msg("child crashed")
				if c.failures >= o.restartLimit {
					shutdown("restart limit", fmt.Errorf("%w: %s failed %d times in a row without becoming ready (restart limit %d); its last lines:\n%s",
						errNodeFailed, c.name, c.failures, o.restartLimit, strings.Join(c.last, "\n")))
					continue
				}
				wait := c.backoff
				c.backoff = min(c.backoff*2, 30*time.Second)
				o.log.Info().Str("child", c.name).Dur("in", wait).Msg("restarting child")
				time.AfterFunc(wait, func() { restartCh <- c })
			}
		}
	}
}
