// e2e_sitemap_test.go: pages reachable only from sitemaps are crawled; a
// sitemap's <lastmod> brings a changed page's revisit forward.

package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/redistest"
)

// sitemapSite is a site whose pages /hidden/1 to /hidden/10 no page links
// to: robots.txt names a gzipped sitemap index, which lists a gzipped
// sitemap, a plain one, one whose XML breaks after its first entry, and a
// gzip bomb; /sitemap.xml, which robots.txt does not name, lists the last
// page. A sitemap also lists a page robots.txt disallows and one off the
// site.
type sitemapSite struct {
	host string
	mu   sync.Mutex
	hits map[string]int
}

func startSitemapSite(t *testing.T) *sitemapSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sitemapSite{host: ln.Addr().String(), hits: map[string]int{}}
	gz := func(b string) string {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write([]byte(b))
		zw.Close()
		return z.String()
	}
	base := "http://" + s.host
	urlset := func(paths ...string) string {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
		for _, p := range paths {
			if !strings.HasPrefix(p, "http") {
				p = base + p
			}
			fmt.Fprintf(&b, "<url><loc>%s</loc><lastmod>2026-12-01</lastmod></url>", p)
		}
		return b.String() + "</urlset>"
	}
	type file struct{ ctype, body string }
	files := map[string]file{
		"/":           {"text/html", `<html><a href="/about">about</a></html>`},
		"/about":      {"text/html", `<html><p>nothing to follow</p></html>`},
		"/robots.txt": {"text/plain", "User-agent: *\nDisallow: /private/\n\nSitemap: " + base + "/maps/index.xml.gz\n"},
		"/maps/index.xml.gz": {"application/gzip", gz(`<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` +
			`<sitemap><loc>` + base + `/maps/a.xml.gz</loc></sitemap><sitemap><loc>` + base + `/maps/b.xml</loc></sitemap>` +
			`<sitemap><loc>` + base + `/maps/broken.xml</loc></sitemap><sitemap><loc>` + base + `/maps/bomb.xml.gz</loc></sitemap>` +
			`</sitemapindex>`)},
		"/maps/a.xml.gz":   {"application/x-gzip", gz(urlset("/hidden/1", "/hidden/2", "/hidden/3", "/hidden/4", "/hidden/5", "/private/x"))},
		"/maps/b.xml":      {"application/xml", urlset("/hidden/6", "/hidden/7", "/hidden/8", "http://127.0.0.3:9/offsite")},
		"/maps/broken.xml": {"text/xml", strings.TrimSuffix(urlset("/hidden/9", "/hidden/never"), "</loc><lastmod>2026-12-01</lastmod></url></urlset>")},
		// 8 MiB of spaces: 8 KiB on the wire, past a sitemap_max_size of 4 MiB.
		"/maps/bomb.xml.gz": {"application/gzip", gz(`<urlset><url><loc>` + base + `/hidden/bomb</loc></url>` + strings.Repeat(" ", 8<<20) + `</urlset>`)},
		"/sitemap.xml":      {"application/xml", urlset("/hidden/10")},
	}
	for i := 1; i <= 10; i++ {
		files[fmt.Sprintf("/hidden/%d", i)] = file{"text/html", fmt.Sprintf("<html><p>hidden page %d</p></html>", i)}
	}
	files["/hidden/never"] = file{"text/html", "<html>only after the break</html>"}
	files["/hidden/bomb"] = file{"text/html", "<html>only in the bomb</html>"}
	files["/private/x"] = file{"text/html", "<html>disallowed</html>"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", f.ctype)
		w.Write([]byte(f.body))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sitemapSite) fetched(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path] > 0
}

// TestSitemaps crawls sitemapSite from its root with the sitemap processor
// and sitemap_root: every hidden page is fetched, through robots.txt's
// gzipped index, its gzipped and plain sitemaps, the entry before the
// broken XML and /sitemap.xml; the disallowed and off-site entries are
// not; the broken sitemap and the bomb are counted errors.
func TestSitemaps(t *testing.T) {
	site := startSitemapSite(t)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", "http://"+site.host+"/")
	c := newCluster(t, `SPYDER_SPYDER_EXTRACTOR_PIPELINE=["sitemap","limiter","html_link_extractor","http_extractor"]`,
		"SPYDER_SITEMAP_ROOT=true", "SPYDER_SITEMAP_MAX_SIZE=4194304")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
	waitClean(t, m, w)

	var crawled []string
	for _, rec := range readJSONL(t, dir+"/out.jsonl") {
		if u, _ := rec["url"].(string); rec["status"] == float64(200) {
			crawled = append(crawled, strings.TrimPrefix(u, "http://"+site.host))
		}
	}
	for i := 1; i <= 10; i++ {
		if p := fmt.Sprintf("/hidden/%d", i); !slices.Contains(crawled, p) {
			t.Errorf("%s, listed only in a sitemap, was not crawled (crawled %v)", p, crawled)
		}
	}
	for _, p := range []string{"/private/x", "/hidden/never", "/hidden/bomb"} {
		if site.fetched(p) {
			t.Errorf("%s was fetched", p)
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 {
		t.Fatal("no MASTER_DOWN record")
	}
	if n, _ := down[0]["sitemap_errors"].(float64); n != 2 {
		t.Errorf("sitemap_errors %v, want 2 (the broken sitemap and the bomb)", down[0]["sitemap_errors"])
	}
	if n, _ := down[0]["links_out_of_scope"].(float64); n < 1 {
		t.Errorf("links_out_of_scope %v: the off-site sitemap entry was not left out", down[0]["links_out_of_scope"])
	}
	if n, _ := down[0]["disallowed"].(float64); n != 1 {
		t.Errorf("disallowed %v, want 1 (/private/x)", down[0]["disallowed"])
	}
}

// lastmodSite serves /sitemap.xml (named by robots.txt), listing /a, /b
// and /c as changed long ago, and /news.xml, which no page names, listing
// /b as changed at a time the test sets, /c long ago and /d undated.
type lastmodSite struct {
	host    string
	mu      sync.Mutex
	hits    map[string]int
	changed time.Time // /b's <lastmod> in /news.xml
}

func startLastmodSite(t *testing.T) *lastmodSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lastmodSite{host: ln.Addr().String(), hits: map[string]int{}}
	base := "http://" + s.host
	entry := func(path, lastmod string) string {
		if lastmod == "" {
			return "<url><loc>" + base + path + "</loc></url>"
		}
		return "<url><loc>" + base + path + "</loc><lastmod>" + lastmod + "</lastmod></url>"
	}
	const longAgo = "2026-01-01"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		changed := s.changed
		s.mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprintf(w, "User-agent: *\nAllow: /\nSitemap: %s/sitemap.xml\n", base)
		case "/sitemap.xml":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, "<urlset>"+entry("/a", longAgo)+entry("/b", longAgo)+entry("/c", longAgo)+"</urlset>")
		case "/news.xml":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, "<urlset>"+entry("/b", changed.UTC().Format(time.RFC3339))+entry("/c", longAgo)+entry("/d", "")+"</urlset>")
		case "/", "/a", "/b", "/c", "/d":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html><p>page %s</p></html>", r.URL.Path)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *lastmodSite) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// TestSitemapLastmodAdvancesRevisits, on each store: a crawl with
// revisits an hour apart fetches /a, /b and /c through the sitemap
// robots.txt names. Then /b changes, and a news sitemap saying so is
// injected: /b is fetched again at once (its <lastmod> is after its last
// fetch), /c, listed as changed long ago, and /a are not; /d, new, is
// fetched; the summary counts one revisit brought forward.
func TestSitemapLastmodAdvancesRevisits(t *testing.T) {
	for _, store := range []string{"pebble", "redis"} {
		t.Run(store, func(t *testing.T) {
			site := startLastmodSite(t)
			dir := t.TempDir()
			seeds := writeFile(t, dir, "seeds.txt", "http://"+site.host+"/")
			env := []string{`SPYDER_SPYDER_EXTRACTOR_PIPELINE=["sitemap","limiter","html_link_extractor","http_extractor"]`,
				"SPYDER_PRIORITIZER_CRAWL_DELTA=3600", "SPYDER_FRONTIER_CLASS=multiple_host"}
			if store == "redis" {
				node := redistest.StartRedis(t)
				env = append(env, "SPYDER_FRONTIER_STORE=redis", "SPYDER_FRONTIER_REDIS_ADDRS="+node.Addr, "SPYDER_STATE_DIR=")
			}
			c := newCluster(t, env...)
			w := start(t, "worker", c.Env, "worker")
			m := start(t, "master", c.Env, "master", "--seeds", seeds)
			waitUntil(t, 30*time.Second, "/a, /b and /c fetched", func() bool {
				return site.count("/a") == 1 && site.count("/b") == 1 && site.count("/c") == 1
			})
			// A <lastmod> is in whole seconds: /b changes a second after its fetch.
			time.Sleep(1100 * time.Millisecond)
			site.mu.Lock()
			site.changed = time.Now().Truncate(time.Second)
			site.mu.Unlock()
			ctl(t, c, "inject", "http://"+site.host+"/news.xml")
			waitUntil(t, 30*time.Second, "/b fetched again and /d fetched", func() bool {
				return site.count("/b") == 2 && site.count("/d") == 1
			})
			time.Sleep(500 * time.Millisecond) // (anything else brought forward would be fetched by now)
			m.Signal(syscall.SIGTERM)
			waitClean(t, m, w)
			for path, want := range map[string]int{"/a": 1, "/b": 2, "/c": 1, "/d": 1, "/news.xml": 1, "/sitemap.xml": 1} {
				if got := site.count(path); got != want {
					t.Errorf("%s fetched %d times, want %d", path, got, want)
				}
			}
			down := m.Find(event(events.MasterDown))
			if len(down) != 1 || down[0]["revisits_advanced"] != float64(1) {
				t.Fatalf("MASTER_DOWN: %v; want revisits_advanced 1", down)
			}
		})
	}
}
