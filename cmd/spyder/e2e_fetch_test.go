// e2e_fetch_test.go: `spyder fetch`, one page through the crawl's
// pipeline and gate without a master.

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

type fetchOutput struct {
	URL     string `json:"url"`
	Status  int    `json:"status"`
	Robots  string `json:"robots"`
	Body    int64  `json:"body_bytes"`
	Content string `json:"content_type"`
	Links   []struct {
		URL, Verdict string
	} `json:"links"`
}

// runFetchCmd runs `spyder fetch --json args...` and decodes its lines.
func runFetchCmd(t *testing.T, args ...string) ([]fetchOutput, int) {
	t.Helper()
	cmd := exec.Command(spyderBin, append([]string{"fetch", "--json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var out []fetchOutput
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		var o fetchOutput
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("spyder fetch printed %q: %v (stderr %s)", line, err, stderr.Bytes())
		}
		out = append(out, o)
	}
	return out, code
}

// TestFetchCommand: `spyder fetch` fetches the page it is given and
// nothing else but its host's robots.txt, reports the links the crawl
// would follow (the page's own host) and those its scope leaves out (the
// off-site host), and does not fetch a page robots.txt disallows unless
// told to.
func TestFetchCommand(t *testing.T) {
	site, err := testsite.Start(testsite.Options{IPs: []string{"127.0.0.2"}, OffsiteIP: "127.0.0.9", Pages: 5,
		RobotsTxt: "User-agent: *\nDisallow: /page/4.html\n"})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	root := site.Seeds()[0]
	page := root + "page/1.html"

	out, code := runFetchCmd(t, page)
	if code != 0 || len(out) != 1 {
		t.Fatalf("exit %d, %d reports", code, len(out))
	}
	rep := out[0]
	if rep.URL != page || rep.Status != 200 || rep.Robots != "allowed" || rep.Body == 0 || rep.Content != "text/html" {
		t.Errorf("report %+v", rep)
	}
	follow, offsite := 0, 0
	for _, l := range rep.Links {
		switch {
		case strings.HasPrefix(l.URL, root) && l.Verdict == "follow":
			follow++
		case strings.Contains(l.URL, "127.0.0.9") && l.Verdict == "out_of_scope":
			offsite++
		default:
			t.Errorf("link %s: %s", l.URL, l.Verdict)
		}
	}
	if follow < 2 || offsite != 1 {
		t.Errorf("%d links followed, %d off-site left out: %+v", follow, offsite, rep.Links)
	}
	if got := paths(site.Log()); got != "/robots.txt /page/1.html" {
		t.Errorf("the site served %s; want robots.txt and the page, nothing more", got)
	}

	disallowed := root + "page/4.html"
	out, code = runFetchCmd(t, disallowed)
	if code != 1 || len(out) != 1 || out[0].Robots != "disallowed" || out[0].Status != 0 {
		t.Errorf("a disallowed page: exit %d, %+v", code, out)
	}
	if strings.Contains(paths(site.Log()), "/page/4.html") {
		t.Errorf("a page robots.txt disallows was fetched")
	}
	out, code = runFetchCmd(t, "--ignore-robots", disallowed)
	if code != 0 || len(out) != 1 || out[0].Status != 200 || out[0].Robots != "disallowed" {
		t.Errorf("--ignore-robots: exit %d, %+v", code, out)
	}

	if _, code := runFetchCmd(t); code != 2 {
		t.Errorf("no URL: exit %d, want 2", code)
	}
	if _, code := runFetchCmd(t, "http://[::1"); code != 2 {
		t.Errorf("a malformed URL: exit %d, want 2", code)
	}
}

func paths(log []testsite.Request) string {
	var p []string
	for _, r := range log {
		p = append(p, r.Path)
	}
	return strings.Join(p, " ")
}
