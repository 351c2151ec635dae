package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/logbus"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
	"github.com/spyder-crawl/spyder/worker"
	"github.com/spyder-crawl/spyder/worker/processor"
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
	if err := checkMaster(s); err != nil {
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
	if err := checkWorker(s); err != nil {
		return configError(stderr, err)
	}
	id := crawluri.Identity(crawluri.RoleWorker)
	bus, err := logPublisher(s, crawluri.RoleWorker)
	if err != nil {
		return configError(stderr, err)
	}
	defer bus.close()
	log := newBusLogger(stderr, bus.writer(), s.LogFormat, s.LogLevelWorker, crawluri.RoleWorker, id)
	w, err := worker.New(worker.Options{Settings: s, Identity: id, Logger: log})
	if err != nil {
		log.Error().Err(err).Msg("worker failed to start")
		return exitCode(err)
	}
	return runWithSignals(log, func(ctx context.Context) error { return w.Run(ctx) })
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

// checkMaster validates the names that only registries know.
func checkMaster(s *settings.Settings) error {
	if !frontier.Registered(s.FrontierClass) {
		return fmt.Errorf("%w: frontier_class: %q is not registered (known: %v)", settings.ErrInvalid, s.FrontierClass, frontier.Names())
	}
	if _, err := urlx.ParseCanonicalization(s.URLCanonicalization); err != nil {
		return fmt.Errorf("%w: url_canonicalization: %v", settings.ErrInvalid, err)
	}
	if !slices.Contains(frontier.SelectorNames(), s.QueueSelectorClass) {
		return fmt.Errorf("%w: queue_selector_class: %q is not registered (known: %v)", settings.ErrInvalid, s.QueueSelectorClass, frontier.SelectorNames())
	}
	if !master.CallbackRegistered(s.MasterCallback) {
		return fmt.Errorf("%w: master_callback: %q is not registered (known: %v)", settings.ErrInvalid, s.MasterCallback, master.CallbackNames())
	}
	if s.MasterCallback == "seedfile" && s.SeedsFile != "" {
		if err := checkReadableFile(s.SeedsFile); err != nil {
			return fmt.Errorf("%w: seeds_file: %v", settings.ErrInvalid, err)
		}
	}
	if err := checkStateDir(s.StateDir); err != nil {
		return fmt.Errorf("%w: state_dir: %v", settings.ErrInvalid, err)
	}
	return nil
}

// checkReadableFile says what is wrong with a file the master must read,
// before any socket is bound.
func checkReadableFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return nil
}

// checkStateDir makes sure the master can keep its state in dir: it is a
// directory (made if missing) where a file can be written ("" keeps the
// state in memory). Each failure
// says which of these it is, so the fix is plain.
func checkStateDir(dir string) error {
	if dir == "" {
		return nil // in memory: nothing to check
	}
	switch fi, err := os.Stat(dir); {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is a file, not a directory", dir)
	case err != nil && fileAncestor(dir) != "":
		return fmt.Errorf("cannot create %s: %s is a file, not a directory", dir, fileAncestor(dir))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %v", dir, unwrapPath(err))
	case err != nil:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cannot create %s: %v", dir, unwrapPath(err))
		}
	}
	probe, err := os.CreateTemp(dir, ".spyder-write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %v", dir, unwrapPath(err))
	}
	name := probe.Name()
	probe.Close()
	return os.Remove(name)
}

// fileAncestor returns the nearest ancestor of dir that exists and is not
// a directory, or "".
func fileAncestor(dir string) string {
	for p := filepath.Dir(filepath.Clean(dir)); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return ""
			}
			return p
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}

// unwrapPath drops the path and operation of an *fs.PathError, which the
// message around it names already, leaving the reason (e.g. "not a
// directory", "read-only file system").
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkWorker validates processor names and the addresses a worker connects to.
func checkWorker(s *settings.Settings) error {
	for key, list := range map[string][]string{"spyder_extractor_pipeline": s.SpyderExtractorPipeline, "spyder_scoper_pipeline": s.SpyderScoperPipeline} {
		for _, name := range list {
			if !processor.Registered(name) {
				return fmt.Errorf("%w: %s: processor %q is not registered (known: %v)", settings.ErrInvalid, key, name, processor.Names())
			}
		}
	}
	if _, err := processor.ParseLinkTags(s.HTMLLinkExtractorTags); err != nil {
		return fmt.Errorf("%w: html_link_extractor_tags: %v", settings.ErrInvalid, err)
	}
	for key, ep := range map[string]string{
		"zeromq_worker_proc_fetcher_pull":  s.ZeromqWorkerProcFetcherPull,
		"zeromq_worker_proc_extractor_pub": s.ZeromqWorkerProcExtractorPub,
		"zeromq_mgmt_master":               s.ZeromqMgmtMaster,
		"zeromq_mgmt_worker":               s.ZeromqMgmtWorker,
	} {
		if err := settings.CheckConnectable(key, ep, s.DerivedFrom(key)); err != nil {
			return err
		}
	}
	return nil
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
