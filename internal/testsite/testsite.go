// Package testsite serves generated multi-host websites on loopback
// addresses for end-to-end tests, benchmarks and the demo, and keeps each
// server's own request log, so a test can check exactly what a crawl
// fetched.
//
// Every page of a host links to a few pages of the same host, one page of
// the next host, a missing page (404) now and then, a redirect, an
// off-scope site, a mailto: link and a fragment of itself. Expected computes
// the URLs a correct crawl fetches from the link graph the pages print,
// with each host's /robots.txt first and none of the paths it disallows.
package testsite

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spyder-crawl/spyder/internal/robots"
)

// Request is one entry of a server's request log.
type Request struct {
	Host string // host:port the request arrived at
	Path string
	UA   string
	// IfNoneMatch is the validator the request carried (conditional GET).
	IfNoneMatch string
	Status      int
	At          time.Time
}

// Options shapes a site.
type Options struct {
	// IPs are the loopback addresses of the in-scope hosts (127.0.0.x).
	IPs []string
	// OffsiteIP serves the off-scope site every page links to; a correct
	// crawl never requests it.
	OffsiteIP string
	// Pages is the number of pages per host.
	Pages int
	// Delay is added to every response (slow servers for shutdown tests).
	Delay time.Duration
	// RobotsTxt is served as /robots.txt by every in-scope host; empty
	// answers 404 (no rules).
	RobotsTxt string
}

// Site is a running set of hosts.
type Site struct {
	opts    Options
	Hosts   []string // host:port of each in-scope host, in IPs order
	Offsite string   // host:port of the off-scope host
	servers []*http.Server

	mu  sync.Mutex
	log []Request
}

// Start listens on every address and serves the site until Close.
func Start(opts Options) (*Site, error) {
	s := &Site{opts: opts}
	ips := append(append([]string{}, opts.IPs...), opts.OffsiteIP)
	// Every address first, then the servers: the pages name the hosts
	// (the off-site link), which must be set before a handler reads them.
	var lns []net.Listener
	for i, ip := range ips {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("testsite: listening on %s: %w", ip, err)
		}
		lns = append(lns, ln)
		if addr := ln.Addr().String(); i < len(opts.IPs) {
			s.Hosts = append(s.Hosts, addr)
		} else {
			s.Offsite = addr
		}
	}
	for i, ln := range lns {
		srv := &http.Server{Handler: s.handler(i, ln.Addr().String()), ReadHeaderTimeout: 10 * time.Second}
		s.servers = append(s.servers, srv)
		go func() { _ = srv.Serve(ln) }()
	}
	return s, nil
}

// Close stops every server.
func (s *Site) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
}

// Seeds are the crawl's starting points: the root of every in-scope host
// (with the default scope, the seeds' hosts are the crawl's scope).
func (s *Site) Seeds() []string {
	out := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		out[i] = "http://" + h + "/"
	}
	return out
}

// Log returns a copy of every request served so far.
func (s *Site) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Counts maps "http://host:port/path" to the number of requests served.
func (s *Site) Counts() map[string]int {
	out := map[string]int{}
	for _, r := range s.Log() {
		out["http://"+r.Host+r.Path]++
	}
	return out
}

func (s *Site) handler(hostIndex int, addr string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Host: addr, Path: r.URL.RequestURI(), UA: r.UserAgent(), IfNoneMatch: r.Header.Get("If-None-Match"), At: time.Now()}
		defer func() {
			s.mu.Lock()
			s.log = append(s.log, req)
			s.mu.Unlock()
		}()
		if s.opts.Delay > 0 {
			select {
			case <-time.After(s.opts.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if hostIndex == len(s.opts.IPs) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<html><body>off-scope site</body></html>")
			return
		}
		if r.URL.Path == "/robots.txt" && s.opts.RobotsTxt != "" {
			req.Status = 200
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, s.opts.RobotsTxt)
			return
		}
		status, body, location := s.page(hostIndex, r.URL.Path)
		if location != "" {
			w.Header().Set("Location", location)
		}
		if status == 200 {
			// Pages never change: a conditional GET gets a 304.
			etag := fmt.Sprintf("%q", addr+r.URL.Path)
			w.Header().Set("Etag", etag)
			if r.Header.Get("If-None-Match") == etag {
				status, body = 304, ""
			}
		}
		if body != "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		req.Status = status
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	})
}

// page renders a path of host h: status, body, redirect location.
func (s *Site) page(h int, path string) (int, string, string) {
	n := s.opts.Pages
	switch {
	case path == "/":
		return 200, s.render(h, "Home", []string{"/page/0.html", "page/1.html"}), ""
	case path == "/moved":
		return 301, "", "/landing.html"
	case path == "/landing.html":
		return 200, s.render(h, "Landing", []string{"/"}), ""
	case strings.HasPrefix(path, "/page/") && strings.HasSuffix(path, ".html"):
		var i int
		if _, err := fmt.Sscanf(path, "/page/%d.html", &i); err != nil || i < 0 || i >= n {
			return 404, "", ""
		}
		return 200, s.render(h, fmt.Sprintf("Page %d", i), s.pageLinks(h, i)), ""
	}
	return 404, "", ""
}

// pageLinks are the hrefs page i of host h prints.
func (s *Site) pageLinks(h, i int) []string {
	n := s.opts.Pages
	links := []string{
		fmt.Sprintf("%d.html", (i+1)%n),                 // relative
		fmt.Sprintf("/page/%d.html", (i*7+3)%n),         // absolute path
		fmt.Sprintf("./%d.html#section", (i*2)%n),       // fragment
		fmt.Sprintf("/page/%d.html?utm=&#top", (i+1)%n), // trailing ? cleaned to the plain page... kept as its own URL
		"mailto:someone@example.org",
		"javascript:void(0)",
		fmt.Sprintf("http://%s/offsite.html", s.Offsite),
	}
	if len(s.Hosts) > 1 {
		next := s.Hosts[(h+1)%len(s.Hosts)]
		links = append(links, fmt.Sprintf("http://%s/page/%d.html", next, (i*3)%n))
	}
	if i%10 == 0 {
		links = append(links, fmt.Sprintf("/missing/%d.html", i))
	}
	if i == n/2 {
		links = append(links, "/moved")
	}
	return links
}

// Title is the <title> of the page at u, when u answers 200 with a page.
func (s *Site) Title(u string) (string, bool) {
	host, pathQuery := splitURL(u)
	path, _, _ := strings.Cut(pathQuery, "?")
	h := s.hostIndex(host)
	if h < 0 {
		return "", false
	}
	status, body, _ := s.page(h, path)
	start, end := strings.Index(body, "<title>"), strings.Index(body, "</title>")
	if status != 200 || start < 0 || end < start {
		return "", false
	}
	return body[start+len("<title>") : end], true
}

func (s *Site) render(h int, title string, links []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html><html><head><title>%s</title></head><body><h1>%s on host %d</h1><ul>", title, title, h)
	for _, l := range links {
		fmt.Fprintf(&b, `<li><a href="%s">%s</a></li>`, strings.ReplaceAll(l, "&", "&amp;"), l)
	}
	b.WriteString("</ul><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p></body></html>")
	return b.String()
}

// Expected returns the in-scope URLs (http://host:port/path) a correct
// crawl from Seeds fetches: every URL reachable over links and redirects,
// with fragments cut and trailing '?'/'&' removed, on the in-scope hosts,
// that RobotsTxt allows to the crawler "spyder", and the /robots.txt of
// every host it reaches.
func (s *Site) Expected() []string {
	fetched, _ := s.crawl()
	return fetched
}

// Disallowed returns the URLs a correct crawl reaches but does not fetch
// because RobotsTxt disallows them (recorded with status 910).
func (s *Site) Disallowed() []string {
	_, disallowed := s.crawl()
	return disallowed
}

func (s *Site) crawl() (fetched, disallowed []string) {
	rules := robots.Parse([]byte(s.opts.RobotsTxt)).For("spyder")
	seen := map[string]bool{}
	hostsReached := map[string]bool{}
	blocked := map[string]bool{}
	var queue []string
	push := func(u string) {
		if !seen[u] {
			seen[u] = true
			queue = append(queue, u)
		}
	}
	for _, seed := range s.Seeds() {
		push(seed)
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		host, pathQuery := splitURL(u)
		path, _, _ := strings.Cut(pathQuery, "?")
		h := s.hostIndex(host)
		if h < 0 {
			continue
		}
		hostsReached[host] = true
		if !rules.Allowed(pathQuery) {
			blocked[u] = true
			continue
		}
		status, _, loc := s.page(h, path)
		var hrefs []string
		switch {
		case status == 200 && path == "/":
			hrefs = []string{"/page/0.html", "/page/1.html"}
		case status == 200 && path == "/landing.html":
			hrefs = []string{"/"}
		case status == 200:
			var i int
			fmt.Sscanf(path, "/page/%d.html", &i)
			hrefs = s.pageLinks(h, i)
		case status >= 300 && status < 400:
			hrefs = []string{loc}
		}
		for _, href := range hrefs {
			if abs := resolve(host, path, href); abs != "" {
				if ah, _ := splitURL(abs); s.hostIndex(ah) >= 0 {
					push(abs)
				}
			}
		}
	}
	for u := range seen {
		if blocked[u] {
			disallowed = append(disallowed, u)
		} else {
			fetched = append(fetched, u)
		}
	}
	for h := range hostsReached {
		fetched = append(fetched, "http://"+h+"/robots.txt")
	}
	sort.Strings(fetched)
	sort.Strings(disallowed)
	return fetched, disallowed
}

func (s *Site) hostIndex(host string) int {
	for i, h := range s.Hosts {
		if h == host {
			return i
		}
	}
	return -1
}

func splitURL(u string) (host, path string) {
	rest := strings.TrimPrefix(u, "http://")
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return rest, "/"
	}
	return rest[:i], rest[i:]
}

// resolve mirrors what the crawler does to an href for this site's link
// shapes: mailto/javascript dropped, fragment cut, a trailing ? or &
// removed, relative paths resolved.
func resolve(host, base, href string) string {
	if strings.HasPrefix(href, "mailto:") || strings.HasPrefix(href, "javascript:") {
		return ""
	}
	if i := strings.IndexByte(href, '#'); i >= 0 {
		href = href[:i]
	}
	href = strings.TrimSuffix(strings.TrimSuffix(href, "?"), "&")
	switch {
	case strings.HasPrefix(href, "http://"):
		return href
	case strings.HasPrefix(href, "/"):
		return "http://" + host + href
	}
	dir := base[:strings.LastIndexByte(base, '/')+1]
	href = strings.TrimPrefix(href, "./")
	return "http://" + host + dir + href
}
