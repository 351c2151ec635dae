// Package cli is the spyder command line: every command of the `spyder`
// binary, reached through spyder.Main (the module's root package), so that
// a user's own binary with their processors and sinks registered has all of
// them too.
//
// Exit codes: 0 clean, 1 failure (or an unclean shutdown), 2 bad usage or
// invalid configuration.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/mgmt"
	"github.com/spyder-crawl/spyder/settings"
)

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// Version is spyder's version; a build may set it with -ldflags
// "-X github.com/spyder-crawl/spyder/internal/cli.Version=...".
var Version = "0.1.0-dev"

// Run runs the command named by args[0] with the rest of args, and returns
// its exit code. (zerolog's time and duration formats are process-wide:
// Run sets them.)
func Run(args, environ []string, stdout, stderr io.Writer) int {
	// Milliseconds in every record's time: ordering events across a master
	// and its workers needs more than whole seconds.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	// Durations with their unit ("grace":"20s"), not bare milliseconds.
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	return run(args, environ, stdout, stderr)
}

type command struct {
	name    string
	summary string
	run     func(args, environ []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"master", "run a master: bind the sockets, seed, dispatch URLs, collect results", runMaster},
		{"worker", "run a worker: connect to a master, fetch URLs, send results back", runWorker},
		{"logsink", "collect the log records of masters and workers (zeromq_logging) into per-role files, rotated by size", runLogsink},
		{"node", "run and supervise a master and --workers N workers on this machine (restarts crashed children)", runNode},
		{"status", "report a running master's state, frontier and workers (--json, --watch 2s)", runStatus},
		{"pause", "stop a running master's dispatch (results still arrive)", runSimpleControl(mgmt.VerbPause, "dispatch paused")},
		{"resume", "resume a paused master's dispatch", runSimpleControl(mgmt.VerbResume, "dispatch resumed")},
		{"inject", "add URLs (arguments or --file) to a running crawl as seeds", runInjectLive},
		{"host", "change a host's politeness in a running crawl: --delay 10s, --default-delay, --block-for 2h, --block-until TIME", runHost},
		{"stop", "stop a running master gracefully (its workers finish and quit; a crawl several masters share: all of them), or --worker ID or --master ID only", runStop},
		{"fetch", "fetch URLs now, without a master, and print what the crawl makes of them: status, body, robots.txt's verdict, every link and whether it is followed, the processors' fields (--json)", runFetch},
		{"frontier", "offline work on a state directory: `frontier inspect` (read-only report; of a Redis crawl too, beside its masters), `frontier inject FILE` (bulk seeding), `frontier migrate --to redis|pebble` (a stopped crawl moved between a state directory and Redis)", runFrontier},
		{"init", "write a new crawl's skeleton: DIR/spyder.yaml (every setting, commented), seeds.txt, README.md", runInit},
		{"keygen", "write a CURVE key pair NAME and NAME_secret (authenticated workers: curve_* settings)", runKeygen},
		{"settings", "print the effective settings as YAML (defaults < --config < SPYDER_* < flags)", runSettings},
		{"version", "print the version", func(_, _ []string, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, "spyder", Version)
			return exitOK
		}},
	}
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitConfig
	}
	switch args[0] {
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	case "--version", "-version":
		args[0] = "version"
	}
	var names []string
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], environ, stdout, stderr)
		}
		names = append(names, c.name)
	}
	hint := ""
	if best := settings.Closest(args[0], names); best != "" {
		hint = fmt.Sprintf("; did you mean %s?", best)
	}
	fmt.Fprintf(stderr, "spyder: unknown command %q%s\n\n", args[0], hint)
	usage(stderr)
	return exitConfig
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: spyder <command> [flags]    (spyder --version, spyder <command> --help)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every setting is a flag (--max-clients 20), an environment variable")
	fmt.Fprintln(w, "(SPYDER_MAX_CLIENTS=20) and a key of the --config YAML file (max_clients: 20).")
	fmt.Fprintln(w, "Run `spyder <command> --help` for its flags.")
}

// errUsage marks errors that are the caller's fault (exit code 2).
var errUsage = errors.New("usage")

func fail(stderr io.Writer, err error) int {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
	fmt.Fprintf(stderr, "spyder: %s\n", msg)
	return exitFail
}
