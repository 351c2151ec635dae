// run.go: spyder master, spyder worker and spyder settings, and the
// signal handling they share (a second signal exits at once).

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/logbus"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/worker"
)

func runMaster(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder master", stdout, stderr)
	sf.alias("seeds", "seeds_file", "file of seed URLs, one per line (the seeds_file setting)")
	sf.alias("out", "output_jsonl", "JSON Lines output, one object per fetched URL (the output_jsonl setting)")
	untilDone := sf.fs.Bool("until-done", false, "exit 0 (and stop the workers) once nothing is queued or in flight")
	paused := sf.fs.Bool("paused", false, "start with dispatch paused; `spyder resume` sends the first URL")
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	// master.New checks again, for programs that embed a master; here the
	// check comes before the log bus is connected, so that a mistake is a
	// plain line on stderr and exit 2.
	if err := master.CheckSettings(s); err != nil {
		return configError(stderr, err)
	}
	id := crawluri.Identity(crawluri.RoleMaster)
	bus, err := logPublisher(s, crawluri.RoleMaster)
	if err != nil {
		return configError(stderr, err)
	}
	defer bus.close()
	log := newBusLogger(stderr, bus.writer(), s.LogFormat, s.LogLevelMaster, crawluri.RoleMaster, id)
	m, err := master.New(master.Options{Settings: s, Identity: id, Logger: log, UntilDone: *untilDone, Paused: *paused})
	if err != nil {
		log.Error().Err(err).Msg("master failed to start")
		return exitCode(err)
	}
	code := runWithSignals(log, func(ctx context.Context) error { return m.Run(ctx) })
	if sum := m.Summary(); sum != nil && isConsole(stderr, s.LogFormat) {
		fmt.Fprint(stderr, "\n"+sum.Table())
	}
	return code
}

func runWorker(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder worker", stdout, stderr)
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	if err := worker.CheckSettings(s); err != nil { // before the log bus, as for the master
		return configError(stderr, err)
	}
	id := crawluri.Identity(crawluri.RoleWorker)
	bus, err := logPublisher(s, crawluri.RoleWorker)
	if err != nil {
		return configError(stderr, err)
	}
	defer bus.close()
	log := newBusLogger(stderr, bus.writer(), s.LogFormat, s.LogLevelWorker, crawluri.RoleWorker, id)
	setWorkerGC(environ)
	w, err := worker.New(worker.Options{Settings: s, Identity: id, Logger: log})
	if err != nil {
		log.Error().Err(err).Msg("worker failed to start")
		return exitCode(err)
	}
	return runWithSignals(log, func(ctx context.Context) error { return w.Run(ctx) })
}

// workerGCPercent is a worker process's GOGC unless the environment sets
// one. A worker allocates a page's body, its links and its result for
// every fetch, and keeps little, so at Go's default of 100 it collected
// often and the collector took a tenth of its CPU. At 200 the crawl used
// 6.5 % less CPU per page for 5 % more peak RSS (bench/peers, five
// rounds side by side). The master keeps the default: its heap is the
// frontier's hosts, and its idle RSS on 10M URLs is held under 300 MiB.
const workerGCPercent = 200

// setWorkerGC applies workerGCPercent, unless GOGC is set in environ (the
// runtime has read it already).
func setWorkerGC(environ []string) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOGC=") {
			return
		}
	}
	debug.SetGCPercent(workerGCPercent)
}

func runSettings(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder settings", stdout, stderr)
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	if _, err := stdout.Write(s.YAML()); err != nil {
		return exitFail
	}
	return exitOK
}

// busLog is a process's logsink publisher, or none.
type busLog struct{ p *logbus.Publisher }

// logPublisher connects to zeromq_logging when it is set.
func logPublisher(s *settings.Settings, role string) (busLog, error) {
	if s.ZeromqLogging == "" {
		return busLog{}, nil
	}
	p, err := logbus.NewPublisher(s.ZeromqLogging, role)
	if err != nil {
		return busLog{}, fmt.Errorf("%w: %v", settings.ErrInvalid, err)
	}
	return busLog{p}, nil
}

func (b busLog) writer() zerolog.LevelWriter {
	if b.p == nil {
		return nil
	}
	return b.p
}

func (b busLog) close() {
	if b.p != nil {
		b.p.Close()
	}
}

// runWithSignals runs fn with a context cancelled by the first SIGINT or
// SIGTERM (a graceful shutdown); a second signal exits 1 at once.
func runWithSignals(log zerolog.Logger, fn func(ctx context.Context) error) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		log.Info().Str("signal", sig.String()).Msg("shutdown requested; send the signal again to exit at once")
		cancel()
		if sig, ok = <-sigs; ok {
			log.Warn().Str("signal", sig.String()).Msg("second signal: exiting now")
			os.Exit(exitFail)
		}
	}()
	if err := fn(ctx); err != nil {
		log.Error().Err(err).Msg("stopped with an error")
		if errors.Is(err, settings.ErrInvalid) {
			return exitConfig
		}
		return exitFail
	}
	return exitOK
}
