// frontier_cmd.go: spyder frontier inspect, inject and migrate: offline
// work on a crawl's frontier.

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/frontier/redisstore"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

// runFrontier dispatches `spyder frontier inspect|inject|migrate`:
// offline work on a crawl's frontier (inject and migrate while no master
// runs it).
func runFrontier(args, environ []string, stdout, stderr io.Writer) int {
	cmds := map[string]func(args, environ []string, stdout, stderr io.Writer) int{
		"inspect": runInspect, "inject": runInject, "migrate": runMigrate,
	}
	if len(args) == 0 || cmds[args[0]] == nil {
		fmt.Fprintln(stderr, "usage: spyder frontier inspect [--state-dir DIR] [--url URL] [--json]")
		fmt.Fprintln(stderr, "       spyder frontier inject [--state-dir DIR] FILE|-")
		fmt.Fprintln(stderr, "       spyder frontier migrate --to redis|pebble [--dir STATE_DIR] [--frontier-redis-addrs HOST:PORT ...]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK
		}
		return exitConfig
	}
	return cmds[args[0]](args[1:], environ, stdout, stderr)
}

func runInspect(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder frontier inspect", stdout, stderr)
	url := sf.fs.String("url", "", "also show this URL's record and full history")
	asJSON := sf.fs.Bool("json", false, "print the report as JSON")
	maxLeases := sf.fs.Int("leases", 20, "list at most this many outstanding leases")
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	canon, err := urlx.ParseCanonicalization(s.URLCanonicalization)
	if err != nil {
		return configError(stderr, fmt.Errorf("%w: url_canonicalization: %v", settings.ErrInvalid, err))
	}
	var rep *frontier.Report
	switch {
	case s.FrontierStore == "redis":
		// A Redis crawl is read beside its running masters.
		u := *url
		if u != "" {
			if u, err = canon.Normalize(u); err != nil {
				return configError(stderr, fmt.Errorf("--url: %w", err))
			}
		}
		rep, err = redisstore.Inspect(redisstore.Config{Addrs: s.FrontierRedisAddrs, Username: s.FrontierRedisUsername,
			Password: s.FrontierRedisPassword, Crawl: s.FrontierRedisCrawl}, u, *maxLeases)
	case s.StateDir == "":
		return configError(stderr, fmt.Errorf("%w: state_dir: empty (the state is in memory; nothing to inspect)", settings.ErrInvalid))
	default:
		rep, err = frontier.Inspect(s.StateDir, *url, *maxLeases, canon)
	}
	if err != nil {
		fmt.Fprintf(stderr, "spyder: %v\n", err)
		return exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitFail
		}
		return exitOK
	}
	printReport(stdout, rep)
	return exitOK
}

func printReport(w io.Writer, r *frontier.Report) {
	st := r.Stats
	fmt.Fprintf(w, "frontier: %s\n", r.Dir)
	fmt.Fprintf(w, "urls:   %d seen, %d queued, %d scheduled for a revisit, %d in flight, %d done, %d failed (%d retries), %d not fetched (robots.txt)\n",
		st.Seen, st.Queued, st.Scheduled, st.InFlight, st.Done, st.Failed, st.Retried, st.Disallowed)
	hosts := r.SeedHosts
	more := ""
	if len(hosts) > 10 {
		hosts, more = hosts[:10], fmt.Sprintf(" ... and %d more", len(r.SeedHosts)-10)
	}
	fmt.Fprintf(w, "scope:  %d seed hosts: %s%s\n", len(r.SeedHosts), strings.Join(hosts, " "), more)
	fmt.Fprintf(w, "queues: %d\n", len(r.Queues))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  QUEUE\tQUEUED\tNEXT ALLOWED")
	for i, q := range r.Queues {
		if i == 50 {
			fmt.Fprintf(tw, "  ... %d more\t\t\n", len(r.Queues)-50)
			break
		}
		next := "any time"
		if !q.NextAllowed.IsZero() {
			next = q.NextAllowed.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", q.Name, q.Queued, next)
	}
	tw.Flush()
	fmt.Fprintf(w, "leases: %d outstanding (queued again when a master starts)\n", st.InFlight)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, l := range r.Leases {
		fmt.Fprintf(tw, "  %d\t%s\tdeadline %s\n", l.ID, l.URL, l.Deadline.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	if u := r.URL; u != nil {
		fmt.Fprintf(w, "url:    %s\n", u.URL)
		if !u.Known {
			fmt.Fprintln(w, "  not known to this frontier")
			return
		}
		fmt.Fprintf(w, "  state %s, last status %d, failed attempts %d, revisit level %d\n", u.State, u.Status, u.Attempts, u.Level)
		if !u.Due.IsZero() {
			fmt.Fprintf(w, "  due %s\n", u.Due.UTC().Format(time.RFC3339Nano))
		}
		if u.ETag != "" || u.LastMod != "" {
			fmt.Fprintf(w, "  etag %s, last-modified %s\n", u.ETag, u.LastMod)
		}
		if u.Capture != "" {
			fmt.Fprintf(w, "  WARC capture %s\n", u.Capture)
		}
		for _, h := range u.History {
			fmt.Fprintf(w, "  %s  %s (%d)\n", h.At.UTC().Format(time.RFC3339Nano), h.Event, h.Value)
		}
	}
}

func runInject(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder frontier inject [flags] FILE (- for standard input)", stdout, stderr)
	sf.args = 1
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	file := sf.fs.Arg(0)
	if err := master.CheckSettings(s); err != nil {
		return configError(stderr, err)
	}
	if s.StateDir == "" {
		return configError(stderr, fmt.Errorf("%w: state_dir: empty; inject needs a state directory", settings.ErrInvalid))
	}
	in, err := openURLs(file)
	if err != nil {
		return configError(stderr, fmt.Errorf("%w: %v", errUsage, err))
	}
	defer in.Close()
	log := newLogger(stderr, s.LogFormat, s.LogLevelMaster, "inject", "")
	f, err := frontier.Open(s.FrontierClass, frontier.Options{Dir: s.StateDir, LeaseTimeout: s.MasterLeaseTimeout, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "spyder: %v\n", err)
		return exitFail
	}
	start := time.Now()
	canon, _ := urlx.ParseCanonicalization(s.URLCanonicalization) // checked by master.CheckSettings
	total, added, bad, err := inject(f, canon, s.MaxURLLength, in, log)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "spyder: inject: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "injected %d new URLs into %s (%d lines, %d already known, %d malformed) in %v\n",
		added, s.StateDir, total, total-added-bad, bad, time.Since(start).Round(time.Millisecond))
	return exitOK
}

// injectChunk is how many lines inject reads and normalises at a time
// (then hands to the bulk load): enough to keep every core busy, few enough
// to bound memory.
const injectChunk = 500000

// injectReportEvery is how often a long inject logs its progress.
const injectReportEvery = 30 * time.Second

// inject adds the URLs of r as seeds through one bulk load: with the
// embedded store all of them are durable at the end, in one atomic step (a
// kill -9 before it leaves the state as it was); a store without a bulk
// load commits each chunk. Either way, what is reported injected is durable.
func inject(f frontier.Frontier, canon urlx.Canonicalization, maxLen int, r io.Reader, log zerolog.Logger) (total, added, bad int, err error) {
	load, err := frontier.NewBulkLoad(f, time.Now())
	if err != nil {
		return 0, 0, 0, err
	}
	start, lastReport, read := time.Now(), time.Now(), 0
	total, err = urlx.ReadURLFile(r, injectChunk, func(raw []string, lines []int) error {
		// A bulk load of 100M URLs runs for many minutes: say how far it is.
		if time.Since(lastReport) >= injectReportEvery {
			lastReport = time.Now()
			log.Info().Int("urls_done", read).Int("malformed", bad).
				Str("elapsed", time.Since(start).Round(time.Second).String()).Msg("inject: reading")
		}
		read += len(raw)
		urls := frontier.NormalizeAll(&urlx.Gate{Canon: canon, MaxLen: maxLen}, raw, func(i int, err error) {
			bad++
			if bad <= 10 {
				log.Warn().Int("line", lines[i]).Err(err).Msg("skipping a URL that cannot be crawled")
			}
		})
		return load.Add(urls)
	})
	if err != nil {
		load.Abort()
		return total, 0, bad, err
	}
	log.Info().Int("urls_done", read).Int("malformed", bad).
		Str("elapsed", time.Since(start).Round(time.Second).String()).Msg("inject: read everything; sorting and writing")
	added, err = load.Finish()
	return total, added, bad, err
}
