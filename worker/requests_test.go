package worker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

// serveOn serves h on ip until the test ends; it returns host:port.
func serveOn(t *testing.T, ip string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().String()
}

func settingsWith(t *testing.T, flags map[string]any) *settings.Settings {
	t.Helper()
	s, err := settings.Load(settings.Source{Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRequestRules: the default headers go to every host, a host's own
// replace them, and a host's user agent replaces user_agent.
func TestRequestRules(t *testing.T) {
	var mu sync.Mutex
	got := map[string]http.Header{}
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Host] = r.Header.Clone()
		mu.Unlock()
	})
	a, b := serveOn(t, "127.0.0.2", record), serveOn(t, "127.0.0.3", record)
	s := settingsWith(t, map[string]any{
		"user_agent":              "spyder-test/1",
		"default_request_headers": []string{"X-Default: d", "Accept-Language: de"},
		"host_request_headers":    []string{"127.0.0.3 X-Default: for b", "127.0.0.* X-Team: t"},
		"host_user_agents":        []string{"127.0.0.3 special-agent/2", "*.example.com other/3", "127.0.0.3 not-the-first/4"},
	})
	rules, err := NewRequestRules(s)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(FetchOptions{MaxClients: 2, RequestTimeout: time.Second, ConnectTimeout: time.Second, MaxContentLength: 1000, Requests: rules})
	defer f.Close()
	for _, h := range []string{a, b} {
		c := &crawluri.CrawlUri{URL: "http://" + h + "/"}
		f.Fetch(context.Background(), c)
		if c.StatusCode != 200 {
			t.Fatalf("%s: %d %s", h, c.StatusCode, c.Error)
		}
	}
	for _, tc := range []struct{ host, name, want string }{
		{a, "User-Agent", "spyder-test/1"}, {a, "X-Default", "d"}, {a, "Accept-Language", "de"}, {a, "X-Team", "t"},
		{b, "User-Agent", "special-agent/2"}, {b, "X-Default", "for b"}, {b, "X-Team", "t"},
	} {
		if v := got[tc.host].Get(tc.name); v != tc.want {
			t.Errorf("%s got %s: %q, want %q", tc.host, tc.name, v, tc.want)
		}
	}
}

// TestResponseFilter: a body of a type content_types leaves out, or over
// max_response_size by its length or as read, is not read: the result
// has the status, the headers and why; robots.txt and untyped bodies are
// read.
func TestResponseFilter(t *testing.T) {
	h := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<p>kept</p>"))
		case "/plain":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("kept too: text/*"))
		case "/style.css":
			w.Header().Set("Content-Type", "text/css")
			w.Write([]byte("body{}"))
		case "/photo":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write([]byte("jpeg"))
		case "/robots.txt":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte("User-agent: *\nDisallow:\n"))
		case "/big":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "5000")
			w.Write([]byte(strings.Repeat("x", 5000)))
		case "/stream":
			w.Header().Set("Content-Type", "text/html")
			for range 30 {
				w.Write([]byte(strings.Repeat("y", 100)))
				w.(http.Flusher).Flush()
			}
		case "/untyped":
			w.Header()["Content-Type"] = nil
			w.Write([]byte{0, 1, 2})
		}
	}))
	s := settingsWith(t, map[string]any{"content_types": []string{"text/html", "TEXT/PLAIN"}, "max_response_size": "2000"})
	filter, err := NewResponseFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(FetchOptions{UserAgent: "t", MaxClients: 2, RequestTimeout: time.Second, ConnectTimeout: time.Second, MaxContentLength: 10000, Filter: filter})
	defer f.Close()
	for _, tc := range []struct{ path, skipped, body string }{
		{"/page", "", "<p>kept</p>"},
		{"/plain", "", "kept too: text/*"},
		{"/style.css", "content_type: text/css is not in content_types", ""},
		{"/photo", "content_type: image/jpeg is not in content_types", ""},
		{"/robots.txt", "", "User-agent: *\nDisallow:\n"},
		{"/big", "size: Content-Length 5000 over max_response_size 2000", ""},
		{"/stream", "size: the body is over max_response_size 2000", ""},
		{"/untyped", "", "\x00\x01\x02"},
	} {
		c := &crawluri.CrawlUri{URL: "http://" + h + tc.path}
		f.Fetch(context.Background(), c)
		if c.StatusCode != 200 || c.Var(crawluri.VarSkipped) != tc.skipped || string(c.ContentBody) != tc.body {
			t.Errorf("%s: status %d, skipped %q, body %q; want skipped %q, body %q", tc.path, c.StatusCode, c.Var(crawluri.VarSkipped), c.ContentBody, tc.skipped, tc.body)
		}
		if tc.skipped != "" && (c.RepHeader["Content-Type"] == "" || c.Var(crawluri.VarExtractionFinished) != crawluri.VarTrue) {
			t.Errorf("%s: a skipped body keeps its headers and has no links taken: %v %v", tc.path, c.RepHeader, c.OptionalVars)
		}
	}
}

// TestProxyRotation: the proxies are taken in turn; one that cannot be
// reached fails its fetch (599, saying it is left out) and is left out
// for the back-off, the others carrying the crawl; once the back-off is
// over it is tried again.
func TestProxyRotation(t *testing.T) {
	origin := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the origin was contacted directly: %s", r.URL)
	}))
	var mu sync.Mutex
	forwarded := map[string]int{}
	proxy := func(name string) string {
		return serveOn(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			forwarded[name]++
			mu.Unlock()
			w.Write([]byte("via " + name))
		}))
	}
	live1, live2 := proxy("live1"), proxy("live2")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	var proxies []*url.URL
	for _, a := range []string{dead, live1, live2} {
		proxies = append(proxies, &url.URL{Scheme: "http", Host: a})
	}
	f := NewFetcher(FetchOptions{UserAgent: "t", MaxClients: 2, RequestTimeout: time.Second, ConnectTimeout: time.Second,
		MaxContentLength: 1000, Proxies: proxies, ProxyBackoff: time.Second})
	defer f.Close()
	fetch := func() *crawluri.CrawlUri {
		c := &crawluri.CrawlUri{URL: "http://" + origin + "/p"}
		f.Fetch(context.Background(), c)
		return c
	}
	first := fetch()
	if first.StatusCode != crawluri.StatusTransportError || !strings.Contains(first.Error, "proxy http://"+dead+" left out for 1s") {
		t.Fatalf("through the dead proxy: %d %q", first.StatusCode, first.Error)
	}
	for i := range 6 {
		if c := fetch(); c.StatusCode != 200 {
			t.Fatalf("fetch %d with the dead proxy left out: %d %q", i, c.StatusCode, c.Error)
		}
	}
	if forwarded["live1"] != 3 || forwarded["live2"] != 3 {
		t.Errorf("forwarded %v: want the live proxies in turn", forwarded)
	}
	time.Sleep(1100 * time.Millisecond)
	again := []*crawluri.CrawlUri{fetch(), fetch(), fetch()}
	var failed int
	for _, c := range again {
		if strings.Contains(c.Error, dead) {
			failed++
			if !strings.Contains(c.Error, "left out for 2s") {
				t.Errorf("a second failure in a row: %q, want the back-off doubled", c.Error)
			}
		}
	}
	if failed != 1 {
		t.Errorf("after the back-off the dead proxy was tried %d times in 3 fetches, want once", failed)
	}
}
