// callback.go: seeding callbacks (master_callback) and their Setup: seeds
// added with their refusals, sinks added; the seedfile callback.

package master

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/internal/registry"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
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
	n, _, err := s.m.addSeeds(urls, nil)
	return n, err
}

// AddSink registers a sink for every result from now on.
func (s *Setup) AddSink(sink Sink) { s.m.sinks = append(s.m.sinks, sink) }

// A Refusal is a seed the master did not admit, and why.
type Refusal struct {
	URL   string
	Where string // file:line, or "" for URLs not read from a file
	Err   error
}

// seedFile reads seeds_file: one URL per line; blank lines and lines
// starting with # are ignored. A file without a URL, or whose URLs are all
// refused, is a mistake in the crawl's set-up (exit 2), not a crawl that
// finishes at once having done nothing.
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
	added, refused := 0, 0
	total, err := urlx.ReadURLFile(f, 10000, func(urls []string, lines []int) error {
		where := make([]string, len(lines))
		for i, l := range lines {
			where[i] = fmt.Sprintf("%s:%d", path, l)
		}
		n, r, err := setup.m.addSeeds(urls, where)
		added, refused = added+n, refused+len(r)
		return err
	})
	if err != nil {
		return fmt.Errorf("seedfile: %s: %w", path, err)
	}
	switch {
	case total == 0:
		return fmt.Errorf("%w: seeds_file: %s has no URL (one per line; # starts a comment)", settings.ErrInvalid, path)
	case refused == total:
		return fmt.Errorf("%w: seeds_file: none of the %d URLs of %s can be crawled (each is named above with the reason)", settings.ErrInvalid, total, path)
	}
	setup.Logger.Info().Str("file", path).Int("seeds", total).Int("new", added).Int("refused", refused).Msg("seedfile: seeds loaded")
	return nil
}

// addSeeds admits raw as seeds; where, when not nil, names each one's
// origin (file:line) for the warnings. It returns how many were new to the
// frontier and the ones refused.
func (m *Master) addSeeds(raw []string, where []string) (int, []Refusal, error) {
	urls := make([]string, 0, len(raw))
	var refused []Refusal
	for i, r := range raw {
		u, err := m.gate.Seed(r)
		if err != nil {
			m.badSeeds++
			ref := Refusal{URL: r, Err: err}
			ev := m.log.Warn().Err(err).Str("url", truncate(r, 200))
			if where != nil {
				ref.Where = where[i]
				ev = ev.Str("line", where[i])
			}
			refused = append(refused, ref)
			ev.Msg("seed refused")
			continue
		}
		urls = append(urls, u)
	}
	urls = append(urls, m.rootSitemaps(urls)...)
	n, err := m.frontier.AddSeeds(urls, time.Now())
	if err != nil {
		return n, refused, fmt.Errorf("adding seeds: %w", err)
	}
	return n, refused, nil
}

// truncate shortens s to at most n bytes for a log line, saying so.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// rootSitemaps are the /sitemap.xml of the seeds' hosts, with
// sitemap_root (sitemaps a site has without naming them in robots.txt).
func (m *Master) rootSitemaps(seeds []string) []string {
	if !m.s.SitemapRoot {
		return nil
	}
	var out []string
	done := map[string]bool{}
	for _, s := range seeds {
		u, err := url.Parse(s)
		if err != nil || done[u.Scheme+"://"+u.Host] {
			continue
		}
		done[u.Scheme+"://"+u.Host] = true
		if sm, err := m.gate.Seed(u.Scheme + "://" + u.Host + "/sitemap.xml"); err == nil {
			out = append(out, sm)
		}
	}
	return out
}
