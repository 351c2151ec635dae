package master

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/internal/registry"
	"github.com/spyder-crawl/spyder/settings"
)

// Callback prepares a crawl before the master starts dispatching: it adds
// seed URLs and sinks (spyder's MASTER_CALLBACK). It runs once, after the
// sockets are bound and the frontier is open.
type Callback func(ctx context.Context, setup *Setup) error

var callbacks = registry.New[Callback]("master_callback")

// RegisterCallback makes cb available under name for the master_callback
// setting. It panics on a duplicate name or a nil callback.
func RegisterCallback(name string, cb Callback) { callbacks.Register(name, cb) }

// CallbackNames lists the registered callbacks, sorted.
func CallbackNames() []string { return callbacks.Names() }

// CallbackRegistered reports whether name is a registered callback ("" is
// always accepted and means none).
func CallbackRegistered(name string) bool {
	_, ok := callbacks.Lookup(name)
	return name == "" || ok
}

func init() {
	RegisterCallback("seedfile", seedFile)
}

// Setup is what a Callback works with.
type Setup struct {
	Settings *settings.Settings
	Logger   zerolog.Logger
	m        *Master
}

// AddSeeds admits seed URLs into the frontier. Each is normalized; with a
// host-based scope (no regex_scope_positive) its host joins the scope. A
// malformed seed is skipped and counted, with a warning naming it. It
// returns how many seeds were new to the frontier.
func (s *Setup) AddSeeds(urls ...string) (int, error) {
	return s.m.addSeeds(urls, "")
}

// AddSink registers a sink for every result from now on.
func (s *Setup) AddSink(sink Sink) { s.m.sinks = append(s.m.sinks, sink) }

// seedFile reads seeds_file: one URL per line; blank lines and lines
// starting with # are ignored.
func seedFile(_ context.Context, setup *Setup) error {
	path := setup.Settings.SeedsFile
	if path == "" {
		setup.Logger.Info().Msg("seedfile: no seeds_file configured; starting with the frontier as it is")
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: seeds_file: %v", settings.ErrInvalid, err)
	}
	defer f.Close()
	added := 0
	total, err := frontier.ReadURLFile(f, 10000, func(urls []string, line int) error {
		n, err := setup.m.addSeeds(urls, fmt.Sprintf("%s:%d", path, line))
		added += n
		return err
	})
	if err != nil {
		return fmt.Errorf("seedfile: %s: %w", path, err)
	}
	setup.Logger.Info().Str("file", path).Int("seeds", total).Int("new", added).Msg("seedfile: seeds loaded")
	return nil
}

func (m *Master) addSeeds(raw []string, where string) (int, error) {
	urls := make([]string, 0, len(raw))
	for _, r := range raw {
		u, err := m.canon.Normalize(r)
		if err != nil {
			m.badSeeds++
			ev := m.log.Warn().Err(err)
			if where != "" {
				ev = ev.Str("near", where)
			}
			ev.Msg("skipping a malformed seed")
			continue
		}
		if len(u) > m.s.MaxURLLength {
			m.badSeeds++
			m.log.Warn().Str("url", u[:min(64, len(u))]+"...").Int("length", len(u)).Int("max_url_length", m.s.MaxURLLength).Msg("skipping a seed longer than max_url_length")
			continue
		}
		m.scope.AddSeed(u)
		urls = append(urls, u)
	}
	n, err := m.frontier.AddSeeds(urls, time.Now())
	if err != nil {
		return n, fmt.Errorf("adding seeds: %w", err)
	}
	return n, nil
}
