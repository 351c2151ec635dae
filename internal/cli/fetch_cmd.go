// fetch_cmd.go: `spyder fetch URL...`, what the crawl would make of a page,
// without a master (scrapy parse's role): the fetch, the worker's pipeline,
// and the gate's verdict on each link.

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
	"github.com/spyder-crawl/spyder/worker"
)

// fetchReport is what `spyder fetch` says of one URL (--json prints it as
// is, one object per line).
type fetchReport struct {
	URL          string            `json:"url"`
	EffectiveURL string            `json:"effective_url,omitempty"`
	Status       int               `json:"status"`
	Error        string            `json:"error,omitempty"`
	Seconds      float64           `json:"seconds"`
	ContentType  string            `json:"content_type,omitempty"`
	BodyBytes    int64             `json:"body_bytes"`
	Truncated    bool              `json:"truncated,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Robots       string            `json:"robots"` // allowed, disallowed, unreachable, not_checked
	Links        []fetchedLink     `json:"links"`
	Vars         map[string]string `json:"vars,omitempty"` // the processors' optional vars but the links
}

// fetchedLink is a link of the page and what the crawl's gate says of it:
// "follow", or the reason it is left out (urlx.Reason).
type fetchedLink struct {
	URL     string `json:"url"`
	Verdict string `json:"verdict"`
}

const (
	robotsAllowed     = "allowed"
	robotsDisallowed  = "disallowed"
	robotsUnreachable = "unreachable"
	robotsNotChecked  = "not_checked"
)

func runFetch(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder fetch [flags] URL...", stdout, stderr)
	asJSON := sf.fs.Bool("json", false, "print one JSON object per URL")
	headers := sf.fs.Bool("headers", false, "print the response headers too")
	ignoreRobots := sf.fs.Bool("ignore-robots", false, "fetch a URL that robots.txt disallows (obey_robots_txt decides whether it is read at all)")
	sf.args = -1
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	if sf.fs.NArg() == 0 {
		return configError(stderr, fmt.Errorf("%w: no URL to fetch (spyder fetch URL...)", errUsage))
	}
	canon, err := urlx.ParseCanonicalization(s.URLCanonicalization)
	if err != nil {
		return configError(stderr, err)
	}
	scope, err := urlx.NewScope(s.RegexScopePositive, s.RegexScopeNegative)
	if err != nil {
		return configError(stderr, err)
	}
	gate := &urlx.Gate{Canon: canon, MaxLen: s.MaxURLLength, Scope: scope, DenyExtensions: urlx.ExtensionSet(s.DenyExtensions)}
	// Every URL is a seed of the crawl it would start: its host joins a
	// host-based scope, as the master's seeds do.
	var targets []string
	for _, raw := range sf.fs.Args() {
		u, err := gate.Seed(raw)
		if err != nil {
			return configError(stderr, fmt.Errorf("%w: %s: %v", errUsage, raw, err))
		}
		targets = append(targets, u)
	}
	w, err := worker.New(worker.Options{Settings: s, Identity: "fetch", Logger: newLogger(stderr, s.LogFormat, s.LogLevelWorker, "fetch", "fetch")})
	if err != nil {
		return configError(stderr, err)
	}
	defer w.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	code := exitOK
	for _, target := range targets {
		rep := fetchReport{URL: target, Robots: robotsNotChecked, Links: []fetchedLink{}}
		if s.ObeyRobotsTxt {
			rep.Robots = robotsVerdict(ctx, w, s.RobotsUserAgent, target)
		}
		if rep.Robots == robotsAllowed || rep.Robots == robotsNotChecked || *ignoreRobots {
			c := &crawluri.CrawlUri{URL: target, EffectiveURL: target}
			if !w.Process(ctx, c) {
				return exitFail // interrupted
			}
			rep.fill(c, gate, *headers)
		}
		if rep.Status == 0 || rep.Status >= crawluri.StatusTransportError {
			code = exitFail
		}
		if *asJSON {
			b, _ := json.Marshal(rep)
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			rep.print(stdout)
		}
	}
	return code
}

// robotsVerdict fetches target's robots.txt and applies the crawl's
// robots policy to it (frontier.DecideRobots, as the master does, with no
// retries: one attempt that fails is "unreachable", which the crawl would
// retry before giving up).
func robotsVerdict(ctx context.Context, w *worker.Worker, agent, target string) string {
	origin, _ := urlx.SplitOrigin(target)
	c := &crawluri.CrawlUri{URL: origin + "/robots.txt", EffectiveURL: origin + "/robots.txt"}
	if !w.Process(ctx, c) {
		return robotsUnreachable
	}
	status := int(c.StatusCode)
	if c.StatusCode >= crawluri.StatusTransportError {
		status = 0
	}
	rules := frontier.DecideRobots(frontier.Options{RobotsAgent: agent, RobotsTTL: time.Hour}, frontier.RobotsRules{}, status, c.ContentBody, 0, 0, time.Now()).Rules
	u, err := url.Parse(target)
	switch {
	case rules.Unreachable || rules.Rules == nil || err != nil:
		return robotsUnreachable
	case rules.Rules.Allowed(u.RequestURI()):
		return robotsAllowed
	}
	return robotsDisallowed
}

// fill takes c's outcome into the report, with the gate's verdict on each
// link.
func (r *fetchReport) fill(c *crawluri.CrawlUri, gate *urlx.Gate, withHeaders bool) {
	r.EffectiveURL, r.Status, r.Error, r.Seconds = c.EffectiveURL, int(c.StatusCode), c.Error, c.ReqTime
	r.ContentType, _ = c.ContentType()
	r.BodyBytes = c.BodySize()
	r.Truncated = c.Var(crawluri.VarTruncated) == crawluri.VarTrue
	if withHeaders {
		r.Headers = c.RepHeader
	}
	for _, l := range c.ExtractedURLs() {
		u, err := gate.Link(l)
		verdict := "follow"
		if err != nil {
			verdict = urlx.Reason(err)
		}
		if u == "" {
			u = l
		}
		r.Links = append(r.Links, fetchedLink{URL: u, Verdict: verdict})
	}
	for k, v := range c.OptionalVars {
		if k == crawluri.VarExtractedURLs || k == crawluri.VarTruncated {
			continue
		}
		if r.Vars == nil {
			r.Vars = map[string]string{}
		}
		r.Vars[k] = v
	}
}

func (r *fetchReport) print(w io.Writer) {
	fmt.Fprintf(w, "%s\n", r.URL)
	if r.Status == 0 {
		fmt.Fprintf(w, "  not fetched: robots.txt %s (--ignore-robots fetches it anyway)\n", r.Robots)
		return
	}
	fmt.Fprintf(w, "  status      %d %s\n", r.Status, statusText(r.Status))
	if r.Error != "" {
		fmt.Fprintf(w, "  error       %s\n", r.Error)
	}
	if r.EffectiveURL != r.URL {
		fmt.Fprintf(w, "  fetched     %s\n", r.EffectiveURL)
	}
	trunc := ""
	if r.Truncated {
		trunc = " (cut at max_content_length)"
	}
	fmt.Fprintf(w, "  body        %d bytes%s, %s, in %s\n", r.BodyBytes, trunc, r.ContentType,
		time.Duration(r.Seconds*float64(time.Second)).Round(time.Millisecond))
	fmt.Fprintf(w, "  robots.txt  %s\n", r.Robots)
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		fmt.Fprintf(w, "  header      %s: %s\n", k, r.Headers[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.Vars)) {
		fmt.Fprintf(w, "  var         %s: %s\n", k, r.Vars[k])
	}
	follow := 0
	for _, l := range r.Links {
		if l.Verdict == "follow" {
			follow++
		}
	}
	fmt.Fprintf(w, "  links       %d, %d followed\n", len(r.Links), follow)
	for _, l := range r.Links {
		fmt.Fprintf(w, "    %-12s %s\n", l.Verdict, l.URL)
	}
}

// statusText names a status: HTTP's reason phrase, or what spyder's own
// codes mean.
func statusText(code int) string {
	switch code {
	case crawluri.StatusTransportError:
		return "transport error"
	case crawluri.StatusWorkerException:
		return "processing failed"
	}
	return http.StatusText(code)
}
