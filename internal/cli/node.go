// node.go: spyder node's flags; the supervision itself is internal/node.

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/node"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/worker"
)

// runNode is `spyder node`: a master and --workers N workers on this
// machine, as children of this binary that internal/node supervises. The
// node exits 0 when the crawl ended cleanly and 1 otherwise.
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
	if err := master.CheckSettings(s); err != nil {
		return configError(stderr, err)
	}
	if err := worker.CheckSettings(s); err != nil {
		return configError(stderr, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(stderr, fmt.Errorf("finding this binary to run the children: %w", err))
	}
	opts := node.Options{
		Exe: exe, Workers: *workers, Env: environ, RestartLimit: *restartLimit, Grace: *grace, Stderr: stderr,
		Log:      newLogger(stderr, s.LogFormat, s.LogLevelMaster, "node", crawluri.Identity("node")),
		ChildLog: logOutput(stderr, s.LogFormat),
	}
	if isConsole(stderr, s.LogFormat) {
		// For a person: the master's summary as a table.
		opts.AfterRecord = func(record string) string {
			if !strings.Contains(record, `"`+events.CrawlSummary.String()+`"`) {
				return ""
			}
			var rec struct{ Summary *master.Summary }
			if json.Unmarshal([]byte(record), &rec) != nil || rec.Summary == nil {
				return ""
			}
			return "\n" + rec.Summary.Table() + "\n"
		}
	}
	if opts.Grace <= 0 {
		opts.Grace = s.MasterShutdownGrace + s.WorkerShutdownGrace + 5*time.Second
	}
	// Every child gets the node's settings: its own flags are left out.
	sf.fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "workers", "restart-limit", "kill-grace", "until-done", "paused", "seeds", "out":
			return
		}
		if list, err := sf.fs.GetStringArray(f.Name); err == nil {
			for _, v := range list {
				opts.SettingArgs = append(opts.SettingArgs, "--"+f.Name+"="+v)
			}
			return
		}
		opts.SettingArgs = append(opts.SettingArgs, "--"+f.Name+"="+f.Value.String())
	})
	// The children log at info at least: the node waits for their ready
	// events, which are info records; it passes on only what was asked.
	opts.Levels = map[string]zerolog.Level{}
	for _, c := range []struct{ role, asked, flag string }{
		{crawluri.RoleMaster, s.LogLevelMaster, "--log-level-master=info"},
		{crawluri.RoleWorker, s.LogLevelWorker, "--log-level-worker=info"},
	} {
		if lvl := logLevel(c.asked); lvl > zerolog.InfoLevel {
			opts.Levels[c.role] = lvl
			opts.SettingArgs = append(opts.SettingArgs, c.flag)
		}
	}
	if s.MetricsListen != "" {
		perChild, err := nodeMetricsPorts(s.MetricsListen, *workers)
		if err != nil {
			return configError(stderr, err)
		}
		opts.WorkerArgs = func(i int) []string { return []string{"--metrics-listen=" + perChild[i]} }
	}
	if *untilDone {
		opts.MasterArgs = append(opts.MasterArgs, "--until-done")
	}
	if *paused {
		opts.MasterArgs = append(opts.MasterArgs, "--paused")
	}
	if s.SeedsFile != "" {
		opts.MasterArgs = append(opts.MasterArgs, "--seeds", s.SeedsFile)
	}
	if s.OutputJSONL != "" {
		opts.MasterArgs = append(opts.MasterArgs, "--out", s.OutputJSONL)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := node.Supervise(sigs, opts); err != nil {
		opts.Log.Error().Err(err).Msg("node stopped with an error")
		if errors.Is(err, node.ErrConfig) {
			return exitConfig
		}
		return exitFail
	}
	opts.Log.Info().Stringer("event", events.NodeDown).Bool("clean", true).Msg("node stopped: every child exited cleanly")
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
