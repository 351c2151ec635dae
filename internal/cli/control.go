// control.go: the operator's commands against a running master: status,
// pause, resume, stop, host, inject.

package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spyder-crawl/spyder/mgmt"
)

// The operator's commands against a running master: they join its
// management bus at zeromq_mgmt_master / zeromq_mgmt_worker (as a worker
// would) and speak the control requests of mgmt/control.go.

// controlFlags are the settings flags plus --timeout.
func controlFlags(name string, stdout, stderr io.Writer) (*settingFlags, *time.Duration) {
	sf := newSettingFlags(name, stdout, stderr)
	timeout := sf.fs.Duration("timeout", 5*time.Second, "how long to wait for the master's answer")
	return sf, timeout
}

// connect loads the command's flags and settings and joins the master's
// bus; when it cannot, it reports why and returns the exit code.
func connect(sf *settingFlags, timeout *time.Duration, args, environ []string, stderr io.Writer) (*mgmt.Client, int) {
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return nil, configError(stderr, err)
	}
	c, err := mgmt.Dial(mgmt.DialOptions{
		MgmtMaster: s.ZeromqMgmtMaster, MgmtWorker: s.ZeromqMgmtWorker,
		ServerPublicKey: s.CurveServerPublicKey, SecretKey: s.CurveSecretKey, Timeout: *timeout,
	})
	if err != nil {
		return nil, configError(stderr, err) // 2 for a bad key, 1 otherwise
	}
	return c, exitOK
}

// runSimpleControl is pause and resume.
func runSimpleControl(verb, done string) func(args, environ []string, stdout, stderr io.Writer) int {
	return func(args, environ []string, stdout, stderr io.Writer) int {
		sf, timeout := controlFlags("spyder "+verb, stdout, stderr)
		c, code := connect(sf, timeout, args, environ, stderr)
		if c == nil {
			return code
		}
		defer c.Close()
		reply, err := c.Request(verb, mgmt.Request{})
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "%s (master is %s)\n", done, reply.State)
		return exitOK
	}
}

func runStop(args, environ []string, stdout, stderr io.Writer) int {
	sf, timeout := controlFlags("spyder stop", stdout, stderr)
	worker := sf.fs.String("worker", "", "stop only this worker (its identity, as `spyder status` lists it); the crawl goes on")
	master := sf.fs.String("master", "", "a crawl several masters share: stop only this master (its identity, as `spyder status` lists it); the others take its share over")
	c, code := connect(sf, timeout, args, environ, stderr)
	if c == nil {
		return code
	}
	defer c.Close()
	if *worker != "" {
		if _, err := c.Request(mgmt.VerbQuitWorker, mgmt.Request{Worker: *worker}); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "worker %s is stopping; the others go on\n", *worker)
		return exitOK
	}
	reply, err := c.Request(mgmt.VerbStop, mgmt.Request{Master: *master})
	if err != nil {
		return fail(stderr, err)
	}
	if *master != "" {
		fmt.Fprintf(stdout, "master %s is stopping; the crawl's other masters go on\n", *master)
		return exitOK
	}
	fmt.Fprintf(stdout, "stopping (master is %s)\n", reply.State)
	return exitOK
}

func runHost(args, environ []string, stdout, stderr io.Writer) int {
	sf, timeout := controlFlags("spyder host", stdout, stderr)
	sf.args = 1
	delay := sf.fs.Duration("delay", -1, "least time between two requests to the host from now on (e.g. 10s)")
	defaultDelay := sf.fs.Bool("default-delay", false, "back to frontier_min_delay for the host")
	blockFor := sf.fs.Duration("block-for", 0, "fetch nothing of the host for this long (e.g. 2h)")
	blockUntil := sf.fs.String("block-until", "", "fetch nothing of the host before this time (RFC 3339, e.g. 2026-12-01T08:00:00Z)")
	c, code := connect(sf, timeout, args, environ, stderr)
	if c == nil {
		return code
	}
	defer c.Close()
	req := mgmt.Request{Host: sf.fs.Arg(0), BlockUntil: *blockUntil}
	switch {
	case *defaultDelay:
		d := -1.0
		req.Delay = &d
	case *delay >= 0:
		d := delay.Seconds()
		req.Delay = &d
	}
	if *blockFor > 0 {
		if req.BlockUntil != "" {
			return configError(stderr, fmt.Errorf("%w: give --block-for or --block-until, not both", errUsage))
		}
		req.BlockUntil = time.Now().Add(*blockFor).UTC().Format(time.RFC3339Nano)
	}
	if req.Delay == nil && req.BlockUntil == "" {
		return configError(stderr, fmt.Errorf("%w: nothing to change: give --delay, --default-delay, --block-for or --block-until", errUsage))
	}
	reply, err := c.Request(mgmt.VerbHost, req)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "host %s changed\n", req.Host)
	if reply.Note != "" {
		fmt.Fprintf(stdout, "note: %s\n", reply.Note)
	}
	return exitOK
}

func runInjectLive(args, environ []string, stdout, stderr io.Writer) int {
	sf, timeout := controlFlags("spyder inject", stdout, stderr)
	file := sf.fs.String("file", "", "file of URLs, one per line (# comments and blank lines skipped); - for standard input")
	sf.args = -1
	c, code := connect(sf, timeout, args, environ, stderr)
	if c == nil {
		return code
	}
	defer c.Close()
	urls := sf.fs.Args()
	if *file != "" {
		more, err := readURLs(*file)
		if err != nil {
			return fail(stderr, err)
		}
		urls = append(urls, more...)
	}
	if len(urls) == 0 {
		return configError(stderr, fmt.Errorf("%w: no URLs: give them as arguments or with --file", errUsage))
	}
	added, invalid := 0, 0
	for start := 0; start < len(urls); start += addChunk {
		reply, err := c.Request(mgmt.VerbAdd, mgmt.Request{URLs: urls[start:min(start+addChunk, len(urls))]})
		if err != nil {
			if start > 0 {
				fmt.Fprintf(stderr, "spyder: the first %d URLs were sent (%d new)\n", start, added)
			}
			return fail(stderr, err)
		}
		added, invalid = added+reply.Added, invalid+reply.Bad
		for _, r := range reply.Refused {
			fmt.Fprintf(stderr, "spyder: refused %s\n", r)
		}
		if more := reply.Bad - len(reply.Refused); more > 0 {
			fmt.Fprintf(stderr, "spyder: and %d more refused URLs in this batch\n", more)
		}
	}
	fmt.Fprintf(stdout, "%d URLs sent: %d new, %d already known, %d refused\n", len(urls), added, len(urls)-added-invalid, invalid)
	if invalid > 0 {
		return exitFail
	}
	return exitOK
}

// openURLs opens a file of URLs, or standard input for "-" (a generator
// or zcat piped into spyder; closing it is then a no-op).
func openURLs(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(path)
}

// addChunk is how many URLs one add request carries.
const addChunk = 5000

func readURLs(path string) ([]string, error) {
	r, err := openURLs(path)
	if err != nil {
		return nil, fmt.Errorf("reading URLs: %w", err)
	}
	defer r.Close()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading URLs from %s: %w", path, err)
	}
	return out, nil
}

func runStatus(args, environ []string, stdout, stderr io.Writer) int {
	sf, timeout := controlFlags("spyder status", stdout, stderr)
	asJSON := sf.fs.Bool("json", false, "print the status as one JSON object (for scripts)")
	watch := sf.fs.Duration("watch", 0, "refresh every interval (e.g. 2s) until interrupted")
	c, code := connect(sf, timeout, args, environ, stderr)
	if c == nil {
		return code
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for {
		reply, err := c.Request(mgmt.VerbStatus, mgmt.Request{})
		if err != nil {
			return fail(stderr, err)
		}
		if reply.Status == nil {
			return fail(stderr, errors.New("the master's status reply carries no status"))
		}
		if *asJSON {
			b, _ := json.Marshal(reply.Status)
			fmt.Fprintln(stdout, string(b))
		} else {
			if *watch > 0 {
				fmt.Fprint(stdout, "\033[H\033[2J") // clear the terminal
			}
			printStatus(stdout, reply.Status)
		}
		if *watch <= 0 {
			return exitOK
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(*watch):
		}
	}
}

func printStatus(w io.Writer, st *mgmt.Status) {
	fmt.Fprintf(w, "master %s: %s, up %s, frontier %s\n", st.Master, st.State, (time.Duration(st.Uptime) * time.Second).String(), st.Frontier)
	fmt.Fprintf(w, "urls:    %d seen, %d queued, %d in flight, %d done, %d failed, %d retried, %d not fetched (robots.txt), %d scheduled for a revisit\n",
		st.Seen, st.Queued, st.InFlight, st.Done, st.Failed, st.Retried, st.Disallowed, st.Scheduled)
	fmt.Fprintf(w, "results: %d (%.1f pages/s), %d dispatched; by status: %s\n", st.Results, st.PagesPerSec, st.Dispatched, sortedCounts(st.ResultsByClass))
	if len(st.Drops) > 0 {
		fmt.Fprintf(w, "dropped: %s\n", sortedCounts(st.Drops))
	}
	if c := st.Cluster; c != nil {
		paused := ""
		if c.Paused {
			paused = ", paused"
		}
		fmt.Fprintf(w, "crawl %s: %d masters sharing %d partitions%s (counts above: the whole crawl's; results and workers: this master's)\n",
			c.Crawl, len(c.Masters), c.Partitions, paused)
		for _, cm := range c.Masters {
			fmt.Fprintf(w, "  %-40s %-9s %4d partitions  %3d workers  %8d dispatched  %7.1f pages/s  %s\n",
				cm.ID, cm.State, cm.Partitions, cm.Workers, cm.Dispatched, cm.PagesPerSec, cm.Push)
		}
	}
	fmt.Fprintf(w, "workers: %d\n", len(st.Workers))
	for _, wk := range st.Workers {
		fmt.Fprintf(w, "  %-40s %-6s seen %4.1fs ago  %3d/%-3d in flight  %6d done  %5d errors  %7.1f pages/s\n",
			wk.ID, wk.State, wk.LastSeen, wk.InFlight, wk.MaxClients, wk.Done, wk.Errors, wk.PagesPerSec)
	}
}

func sortedCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
