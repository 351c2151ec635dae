// e2e_requests_test.go: the request controls in a crawl: headers and user
// agent by host, links left out by extension, bodies left out by type and
// size, and proxies taken in turn past a dead one.

package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

// TestRequestControls crawls a small site through two proxies, one of
// them dead, with a host's headers and user agent, deny_extensions,
// content_types and max_response_size set: every request the site gets
// carries the host's headers; the denied links are never requested and
// are counted; the stylesheet and the large page are recorded with why
// their bodies were left out, and are not archived; the crawl ends with
// every page, the dead proxy's failures retried through the live one.
func TestRequestControls(t *testing.T) {
	var mu sync.Mutex
	var requests []*http.Request
	pages := map[string][2]string{ // path: content type, body
		"/":          {"text/html", `<a href="/a">a</a><a href="/doc.pdf">pdf</a><a href="/img.JPG">img</a><a href="/style.css">css</a><a href="/big">big</a>`},
		"/a":         {"text/html", `<p>a page</p>`},
		"/doc.pdf":   {"application/pdf", "%PDF"},
		"/img.JPG":   {"image/jpeg", "jpeg"},
		"/style.css": {"text/css", "body{}"},
		"/big":       {"text/html", strings.Repeat("<p>large</p>", 2000)},
	}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	site := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r)
		mu.Unlock()
		p, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", p[0])
		w.Write([]byte(p[1]))
	})}}
	site.Start()
	defer site.Close()

	forward := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL = pr.In.URL
		pr.Out.Host = pr.In.Host
	}}
	var proxied int
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied++
		mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	defer live.Close()
	deadLn, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := deadLn.Addr().String()
	deadLn.Close()

	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", site.URL+"/")
	c := newCluster(t,
		`SPYDER_PROXIES=["http://`+dead+`","`+live.URL+`"]`, "SPYDER_FRONTIER_RETRY_BACKOFF=0.2",
		`SPYDER_HOST_REQUEST_HEADERS=["127.0.0.2 X-Api-Key: k1","*.example.com X-Api-Key: never"]`,
		`SPYDER_HOST_USER_AGENTS=["127.0.0.* team-bot/1"]`,
		`SPYDER_DENY_EXTENSIONS=["pdf","jpg"]`, `SPYDER_CONTENT_TYPES=["text/html"]`, "SPYDER_MAX_RESPONSE_SIZE=10000")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl", "--output-warc-dir", dir+"/warc")
	waitClean(t, m, w)

	mu.Lock()
	defer mu.Unlock()
	fetched := map[string]bool{}
	for _, r := range requests {
		fetched[r.URL.Path] = true
		if r.Header.Get("X-Api-Key") != "k1" || r.UserAgent() != "team-bot/1" {
			t.Errorf("%s: X-Api-Key %q, User-Agent %q", r.URL.Path, r.Header.Get("X-Api-Key"), r.UserAgent())
		}
	}
	for _, p := range []string{"/doc.pdf", "/img.JPG"} {
		if fetched[p] {
			t.Errorf("%s, of a denied extension, was fetched", p)
		}
	}
	if proxied != len(requests) {
		t.Errorf("the site served %d requests, the live proxy forwarded %d: every fetch goes through a proxy", len(requests), proxied)
	}
	skipped := map[string]string{}
	leftOut := 0 // fetches through the dead proxy, which left it out
	for _, rec := range readJSONL(t, dir+"/out.jsonl") {
		u, _ := rec["url"].(string)
		errText, _ := rec["error"].(string)
		switch {
		case strings.Contains(errText, "proxy http://"+dead+" left out for 30s"):
			leftOut++
			continue
		case strings.HasSuffix(u, "/robots.txt"):
			continue // (404: no rules)
		case rec["status"] != float64(200):
			t.Errorf("%s: %v (%v)", u, rec["status"], rec["error"])
		}
		s, _ := rec["skipped"].(string)
		skipped[strings.TrimPrefix(u, site.URL)] = s
	}
	for path, want := range map[string]string{"/": "", "/a": "", "/style.css": "content_type: text/css", "/big": "size: "} {
		if got, ok := skipped[path]; !ok || !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("%s: skipped %q (recorded %v), want %q", path, got, ok, want)
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 {
		t.Fatal("no MASTER_DOWN record")
	}
	if n, _ := down[0]["links_denied_extension"].(float64); n != 2 {
		t.Errorf("links_denied_extension %v, want 2", down[0]["links_denied_extension"])
	}
	if leftOut != 1 {
		t.Errorf("%d fetches failed through the dead proxy, want the first alone (then it is left out)", leftOut)
	}
	records, err := testsite.ReadWARCDir(dir + "/warc")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if u := r.Headers["warc-target-uri"]; strings.HasSuffix(u, "/style.css") || strings.HasSuffix(u, "/big") {
			t.Errorf("a %s record of %s, whose body was left out", r.Headers["warc-type"], u)
		}
	}
}
