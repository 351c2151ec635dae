// Command peers crawls one generated site with spyder and with the
// crawlers its users compare it with (Colly, Scrapy, GNU wget), in turn,
// on this machine, and prints what each cost: wall time, pages/s, CPU
// summed over its processes, peak memory, and what it fetched, read from
// nginx's access log (the one account every crawler shares). A politeness
// round then crawls a second site with a per-host delay and prints each
// crawler's smallest gap between two requests to a host.
//
// It is a module of its own so that spyder's module does not depend on
// Colly. Run it from this directory:
//
//	go run . [flags]
//
// It needs nginx, wget and Debian's python3-scrapy (.ci/run installs
// them), and builds spyder from the repository it sits in.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if os.Getenv("PEERS_ROLE") == "colly" {
		os.Exit(runColly(os.Args[1:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the harness's flags.
type options struct {
	rounds       int
	hosts, pages int
	only         string
	politeHosts  int
	politePages  int
	politeDelay  time.Duration
	politeRounds int
	spyder       string
	base         string
	repo         string
	work         string
	keep         bool
	timeout      time.Duration
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.rounds, "rounds", 3, "throughput rounds; each runs every crawler once, in an order rotated each round")
	fs.IntVar(&o.hosts, "hosts", 10, "hosts of the throughput site (127.0.1.1, 127.0.1.2, ...)")
	fs.IntVar(&o.pages, "pages", 2001, "pages per host of the throughput site")
	fs.StringVar(&o.only, "crawlers", "", "comma-separated crawlers to run (default all: "+crawlerNames()+")")
	fs.IntVar(&o.politeHosts, "polite-hosts", 20, "hosts of the politeness site (127.0.2.1, ...)")
	fs.IntVar(&o.politePages, "polite-pages", 41, "pages per host of the politeness site")
	fs.DurationVar(&o.politeDelay, "polite-delay", 250*time.Millisecond, "delay between two requests to a host in the politeness round")
	fs.IntVar(&o.politeRounds, "polite-rounds", 1, "politeness rounds (0: none)")
	fs.StringVar(&o.spyder, "spyder", "", "spyder binary (default: built from -repo)")
	fs.StringVar(&o.base, "base", "", "a second spyder binary (an earlier build) crawling in every round beside the first, as spyder-base and spyder-base-warc: before and after, side by side")
	fs.StringVar(&o.repo, "repo", "../..", "spyder's repository, where the binary is built from")
	fs.StringVar(&o.work, "work", "", "working directory (default: a new temporary one, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory (site, logs, outputs)")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "limit on one crawl")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.rounds < 0 || o.hosts < 1 || o.hosts > 254 || o.pages < 2 || o.politeHosts < 1 || o.politeHosts > 254 || o.politePages < 2 {
		return o, fmt.Errorf("bad sizes: -rounds ≥ 0, -hosts and -polite-hosts 1..254, -pages and -polite-pages ≥ 2")
	}
	return o, nil
}

func crawlerNames() string {
	var names []string
	for _, c := range crawlers {
		names = append(names, c.name)
	}
	return strings.Join(names, ",")
}

// selected is the crawlers -crawlers names, in the table's order.
func (o options) selected() ([]crawler, error) {
	all := crawlers
	if o.base != "" {
		all = append(spyderCrawlers("spyder-base", func(t tools) string { return t.base }), crawlers...)
	}
	if o.only == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(o.only, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []crawler
	for _, c := range all {
		if want[c.name] {
			out = append(out, c)
			delete(want, c.name)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("unknown crawlers in -crawlers: %v (known: %s)", keys(want), crawlerNames())
	}
	return out, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "peers:", err)
		return 2
	}
	h, err := newHarness(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "peers:", err)
		return 1
	}
	defer h.close()
	rep, err := h.runAll()
	if err != nil {
		fmt.Fprintln(stderr, "peers:", err)
		return 1
	}
	rep.print(stdout)
	if problems := rep.problems(); len(problems) > 0 {
		fmt.Fprintln(stderr, "peers: crawls that did not fetch the site as they should:")
		for _, p := range problems {
			fmt.Fprintln(stderr, "  "+p)
		}
		return 1
	}
	return 0
}

// harness holds what every crawl shares: the tools, the two sites and nginx.
type harness struct {
	o        options
	log      io.Writer
	tools    tools
	work     string
	tempWork bool
	crawlers []crawler
	site     *site // throughput
	polite   *site
	nginx    *server
}

func newHarness(o options, log io.Writer) (_ *harness, err error) {
	h := &harness{o: o, log: log, work: o.work}
	if h.crawlers, err = o.selected(); err != nil {
		return nil, err
	}
	if h.work == "" {
		if h.work, err = os.MkdirTemp("", "spyder-peers-"); err != nil {
			return nil, err
		}
		h.tempWork = true
		// nginx's workers run as nobody: they must reach the site.
		if err := os.Chmod(h.work, 0o755); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(h.work, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.tools, err = findTools(o, h.work); err != nil {
		return nil, err
	}
	addrs := hostAddrs(1, o.hosts)
	politeAddrs := hostAddrs(2, o.politeHosts)
	port, err := freePort(append(append([]string{}, addrs...), politeAddrs...))
	if err != nil {
		return nil, err
	}
	root := filepath.Join(h.work, "site")
	start := time.Now()
	if h.site, err = generate(root, siteSpec{
		hosts: o.hosts, pages: o.pages, minLinks: 20, maxLinks: 40, minBytes: 15000, maxBytes: 20000,
		crossHost: 0.1, seed: 1,
	}, addrs, port); err != nil {
		return nil, err
	}
	if h.polite, err = generate(root, siteSpec{
		hosts: o.politeHosts, pages: o.politePages, minBytes: 2000, maxBytes: 3000, seed: 2,
		allLinksFromIndexOnly: true,
	}, politeAddrs, port); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "peers: site of %d pages on %d hosts and politeness site of %d pages on %d hosts generated in %.1f s under %s\n",
		o.hosts*o.pages, o.hosts, o.politeHosts*o.politePages, o.politeHosts, time.Since(start).Seconds(), root)
	nginxDir := filepath.Join(h.work, "nginx")
	if err := os.MkdirAll(nginxDir, 0o755); err != nil {
		return nil, err
	}
	if h.nginx, err = startNginx(nginxDir, h.site, h.polite); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *harness) close() {
	if h.nginx != nil {
		h.nginx.stop()
	}
	if h.tempWork && !h.o.keep {
		os.RemoveAll(h.work)
	} else {
		fmt.Fprintf(h.log, "peers: working directory kept: %s\n", h.work)
	}
}

// findTools builds spyder (unless given) and finds the other crawlers.
func findTools(o options, work string) (tools, error) {
	t := tools{spyder: o.spyder, base: o.base, python: "/usr/bin/python3"}
	var err error
	if t.self, err = os.Executable(); err != nil {
		return t, err
	}
	if t.spyder == "" {
		t.spyder = filepath.Join(work, "spyder")
		build := exec.Command("go", "build", "-o", t.spyder, "./cmd/spyder")
		build.Dir = o.repo
		if out, err := build.CombinedOutput(); err != nil {
			return t, fmt.Errorf("building spyder in %s: %w\n%s", o.repo, err, out)
		}
	}
	if t.wget, err = exec.LookPath("wget"); err != nil {
		return t, fmt.Errorf("wget not found (apt-get install wget): %w", err)
	}
	if out, err := exec.Command(t.python, "-c", "import scrapy").CombinedOutput(); err != nil {
		return t, fmt.Errorf("Scrapy not importable by %s (apt-get install python3-scrapy): %w\n%s", t.python, err, out)
	}
	return t, nil
}

// runAll runs the throughput rounds, then the politeness rounds.
func (h *harness) runAll() (*report, error) {
	rep := &report{site: h.site, polite: h.polite, delay: h.o.politeDelay, crawlers: h.crawlers}
	for round := 0; round < h.o.rounds; round++ {
		for i := range h.crawlers {
			c := h.crawlers[(i+round)%len(h.crawlers)]
			res, err := h.crawl(c, h.site, 0, fmt.Sprintf("r%d-%s", round, c.name))
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(h.log, "peers: round %d %-16s %6.1f s wall, %6.1f s CPU, %d pages, %d duplicates, %d missing\n",
				round+1, c.name, res.wall.Seconds(), res.cpu.Seconds(), res.pages, res.duplicates, len(res.missing))
			rep.runs = append(rep.runs, res)
		}
	}
	for round := 0; round < h.o.politeRounds; round++ {
		for i := range h.crawlers {
			c := h.crawlers[(i+round)%len(h.crawlers)]
			if !c.polite {
				continue
			}
			res, err := h.crawl(c, h.polite, h.o.politeDelay, fmt.Sprintf("p%d-%s", round, c.name))
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(h.log, "peers: politeness round %d %-16s %6.2f s wall, smallest gap %.3f s, %d gaps under the delay\n",
				round+1, c.name, res.wall.Seconds(), res.minGap.Seconds(), res.violations)
			rep.politeRuns = append(rep.politeRuns, res)
		}
	}
	return rep, nil
}

// crawl runs one crawler on one site and reads what it fetched.
func (h *harness) crawl(c crawler, s *site, delay time.Duration, name string) (result, error) {
	work := filepath.Join(h.work, "runs", name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return result{}, err
	}
	cmd, err := c.command(h.tools, crawlRun{work: work, site: s, delay: delay})
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", c.name, err)
	}
	if f, ok := cmd.Stderr.(*os.File); ok && f != nil {
		defer f.Close()
	}
	offset, err := h.nginx.logOffset()
	if err != nil {
		return result{}, err
	}
	u, err := runMeasured(cmd, h.o.timeout)
	if err != nil {
		return result{}, fmt.Errorf("%s (its log is in %s; run with -keep to look at it): %w", c.name, work, err)
	}
	reqs, err := h.nginx.requestsSince(offset)
	if err != nil {
		return result{}, err
	}
	return analyse(c.name, s, delay, u, reqs), nil
}
