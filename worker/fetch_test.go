// fetch_test.go: the fetcher: proxy, auth, static DNS, gzip, robots redirects; fetch and pipeline speed.

package worker

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/worker/processor"
)

func testFetcher() *Fetcher {
	return NewFetcher(FetchOptions{
		UserAgent: "spyder-test/1", MaxClients: 2, RequestTimeout: 500 * time.Millisecond,
		ConnectTimeout: 500 * time.Millisecond, MaxRedirects: 3, ValidateCertificates: true, MaxContentLength: 1000,
	})
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Etag", `"v1"`)
			w.Write([]byte("<a href=/x>" + r.UserAgent() + "</a>"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 5000)))
		case "/moved":
			http.Redirect(w, r, "/page", http.StatusFound)
		case "/slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	f := testFetcher()
	defer f.Close()

	c := &crawluri.CrawlUri{URL: srv.URL + "/page"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || string(c.ContentBody) != "<a href=/x>spyder-test/1</a>" || c.RepHeader["Etag"] != `"v1"` || c.ReqHeader["User-Agent"] != "spyder-test/1" || c.ReqTime <= 0 {
		t.Fatalf("page: %+v", c)
	}
	cond := &crawluri.CrawlUri{URL: srv.URL + "/page", ReqHeader: map[string]string{"Etag": `"v1"`}}
	f.Fetch(context.Background(), cond)
	if cond.StatusCode != 304 || len(cond.ContentBody) != 0 {
		t.Fatalf("conditional GET: %d", cond.StatusCode)
	}
	big := &crawluri.CrawlUri{URL: srv.URL + "/big"}
	f.Fetch(context.Background(), big)
	if len(big.ContentBody) != 1000 || big.Var(crawluri.VarTruncated) != "1" {
		t.Fatalf("truncation: %d bytes, vars %v", len(big.ContentBody), big.OptionalVars)
	}
	moved := &crawluri.CrawlUri{URL: srv.URL + "/moved"}
	f.Fetch(context.Background(), moved)
	if moved.StatusCode != 302 || moved.RepHeader["Location"] != "/page" {
		t.Fatalf("redirect not returned as a result: %d %v", moved.StatusCode, moved.RepHeader)
	}
	slow := &crawluri.CrawlUri{URL: srv.URL + "/slow"}
	start := time.Now()
	f.Fetch(context.Background(), slow)
	if slow.StatusCode != crawluri.StatusTransportError || !strings.Contains(slow.Error, "timeout") || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("timeout: %d %q after %v", slow.StatusCode, slow.Error, time.Since(start))
	}
	// A port nobody listens on: a transport error, with its text.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	refused := &crawluri.CrawlUri{URL: "http://" + addr + "/"}
	f.Fetch(context.Background(), refused)
	if refused.StatusCode != crawluri.StatusTransportError || !strings.Contains(refused.Error, "refused") {
		t.Fatalf("refused: %d %q", refused.StatusCode, refused.Error)
	}
}

// TestFetchThroughProxy: with a proxy configured every request goes to it,
// with its credentials; the origin is never contacted directly.
func TestFetchThroughProxy(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the origin was contacted directly: %s", r.URL)
	}))
	defer origin.Close()
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := parseProxyAuth(r.Header.Get("Proxy-Authorization")); !ok || user != "crawler" || pass != "s3cret" {
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		seen = append(seen, r.URL.String()) // a forward proxy gets the absolute URL
		w.Write([]byte("via proxy"))
	}))
	defer proxy.Close()
	host, port, _ := net.SplitHostPort(proxy.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	f := NewFetcher(FetchOptions{
		UserAgent: "spyder-test/1", MaxClients: 2, RequestTimeout: time.Second, ConnectTimeout: time.Second,
		MaxContentLength: 1000, Proxy: ProxyURL(host, p, "crawler", "s3cret"),
	})
	defer f.Close()
	c := &crawluri.CrawlUri{URL: origin.URL + "/page"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || string(c.ContentBody) != "via proxy" || len(seen) != 1 || seen[0] != origin.URL+"/page" {
		t.Fatalf("status %d body %q, proxy saw %v", c.StatusCode, c.ContentBody, seen)
	}
	if ProxyURL("", 3128, "u", "p") != nil {
		t.Fatal("a proxy without a host")
	}
}

func parseProxyAuth(h string) (user, pass string, ok bool) {
	r := &http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}

// TestFetchBasicAuthFromURL: user:pass@host in a URL authenticates.
func TestFetchBasicAuthFromURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "alice" || pass != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("secret"))
	}))
	defer srv.Close()
	f := testFetcher()
	defer f.Close()
	c := &crawluri.CrawlUri{URL: strings.Replace(srv.URL, "http://", "http://alice:pw@", 1) + "/private"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || string(c.ContentBody) != "secret" {
		t.Fatalf("status %d body %q", c.StatusCode, c.ContentBody)
	}
}

// TestFetchUsesStaticDNS: a static mapping sends a name that does not
// resolve to a local server, which sees the name in its Host header.
func TestFetchUsesStaticDNS(t *testing.T) {
	var hostHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hostHeader = r.Host
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	static, err := dnscache.ParseStatic([]string{"crawl-target.invalid=127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	dns := dnscache.New(dnscache.Options{Static: static})
	defer dns.Close()
	f := NewFetcher(FetchOptions{
		UserAgent: "spyder-test/1", MaxClients: 2, RequestTimeout: time.Second, ConnectTimeout: time.Second,
		MaxContentLength: 1000, DNS: dns,
	})
	defer f.Close()
	c := &crawluri.CrawlUri{URL: "http://crawl-target.invalid:" + port + "/"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || hostHeader != "crawl-target.invalid:"+port {
		t.Fatalf("status %d (%s), Host %q", c.StatusCode, c.Error, hostHeader)
	}
	// A name that resolves nowhere is a transport error, not a crash.
	c = &crawluri.CrawlUri{URL: "http://no-such-host.invalid/"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != crawluri.StatusTransportError || c.Error == "" {
		t.Fatalf("unresolvable host: status %d, error %q", c.StatusCode, c.Error)
	}
}

// TestFetchGzip: the fetcher asks for gzip and stores the decoded body;
// max_content_length applies to the decoded bytes (a small compressed
// body that inflates hugely is cut, not swallowed whole).
func TestFetchGzip(t *testing.T) {
	gz := func(n int) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(make([]byte, n))
		zw.Close()
		return b.Bytes()
	}
	page, bomb := gz(500), gz(10<<20) // the bomb: 10 MiB of zeros, 10 KiB on the wire
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("no gzip asked for: %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/bomb" {
			w.Write(bomb)
		} else {
			w.Write(page)
		}
	}))
	defer srv.Close()
	f := testFetcher() // max_content_length 1000
	defer f.Close()
	c := &crawluri.CrawlUri{URL: srv.URL + "/page"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || len(c.ContentBody) != 500 || c.Var(crawluri.VarTruncated) == crawluri.VarTrue {
		t.Fatalf("status %d, %d bytes", c.StatusCode, len(c.ContentBody))
	}
	c = &crawluri.CrawlUri{URL: srv.URL + "/bomb"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || len(c.ContentBody) != 1000 || c.Var(crawluri.VarTruncated) != crawluri.VarTrue {
		t.Fatalf("bomb: status %d (%s), %d bytes, truncated %q", c.StatusCode, c.Error, len(c.ContentBody), c.Var(crawluri.VarTruncated))
	}
}

// BenchmarkFetchAndProcess20KB is a worker's work per page against a local
// server: fetch a 20 KB HTML page over HTTP, then run the default
// processor pipeline on it, max_clients (10) at a time. Run with -cpu 1 for
// the one-core figure (the server shares that core).
func BenchmarkFetchAndProcess20KB(b *testing.B) {
	page := testsite.BenchPage()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	defer srv.Close()
	s, err := settings.Load(settings.Source{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := processor.Build(append(append([]string{}, s.SpyderExtractorPipeline...), s.SpyderScoperPipeline...), s)
	if err != nil {
		b.Fatal(err)
	}
	f := NewFetcher(FetchOptions{UserAgent: s.UserAgent, MaxClients: s.MaxClients, RequestTimeout: 10 * time.Second,
		ConnectTimeout: 10 * time.Second, MaxContentLength: s.MaxContentLength})
	defer f.Close()
	b.SetBytes(int64(len(page)))
	b.SetParallelism(max(s.MaxClients/runtime.GOMAXPROCS(0), 1))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := &crawluri.CrawlUri{URL: srv.URL + "/dir/index.html"}
			f.Fetch(context.Background(), c)
			if c.StatusCode != 200 {
				b.Errorf("status %d: %s", c.StatusCode, c.Error)
				return
			}
			if err := p.Run(context.Background(), c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
}

// TestFetchRobotsRedirects: a robots.txt is followed through up to five
// redirects even with follow_redirects off (RFC 9309 2.3.1.2); pages are
// not.
func TestFetchRobotsRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		switch {
		case r.URL.Path == "/robots.txt" && r.URL.RawQuery == "":
			http.Redirect(w, r, "/hop?n=1", http.StatusMovedPermanently)
		case r.URL.Path == "/hop" && n < 5:
			http.Redirect(w, r, "/hop?n="+strconv.Itoa(n+1), http.StatusFound)
		case r.URL.Path == "/hop":
			w.Write([]byte("User-agent: *\nDisallow: /x\n"))
		case r.URL.Path == "/page":
			http.Redirect(w, r, "/hop?n=5", http.StatusFound)
		}
	}))
	defer srv.Close()
	f := testFetcher() // follow_redirects off
	defer f.Close()
	c := &crawluri.CrawlUri{URL: srv.URL + "/robots.txt"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || string(c.ContentBody) != "User-agent: *\nDisallow: /x\n" || c.EffectiveURL != srv.URL+"/hop?n=5" {
		t.Fatalf("robots.txt through five redirects: %d %q %s", c.StatusCode, c.ContentBody, c.EffectiveURL)
	}
	c = &crawluri.CrawlUri{URL: srv.URL + "/page"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 302 {
		t.Fatalf("a page's redirect was followed: %d", c.StatusCode)
	}
	// Six redirects are one too many: the last 3xx comes back.
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/robots.txt?again", http.StatusFound)
	}))
	defer loop.Close()
	c = &crawluri.CrawlUri{URL: loop.URL + "/robots.txt"}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 302 {
		t.Fatalf("robots.txt redirect loop: %d", c.StatusCode)
	}
}

// TestReadBody: whatever length a response announces, truthfully or not,
// the body read is its first limit+1 bytes at most, and a truthful
// length is read into one buffer, never grown.
func TestReadBody(t *testing.T) {
	const limit = 10000
	for _, tc := range []struct {
		name      string
		size      int
		announced int64 // -1: none
	}{
		{"empty", 0, 0},
		{"empty, no length", 0, -1},
		{"small", 700, 700},
		{"small, no length", 700, -1},
		{"limit minus one", limit - 1, limit - 1},
		{"limit", limit, limit},
		{"limit plus one", limit + 1, limit + 1},
		{"much longer than the limit", 5 * limit, 5 * limit},
		{"much longer, no length", 5 * limit, -1},
		{"longer than announced", 3000, 100},
		{"shorter than announced", 100, 3000},
		{"announces a gigabyte", 100, 1 << 30},
	} {
		body := make([]byte, tc.size)
		for i := range body {
			body[i] = byte(i)
		}
		for _, r := range []struct {
			name string
			r    io.Reader
		}{{"whole", bytes.NewReader(body)}, {"one byte at a time", iotest.OneByteReader(bytes.NewReader(body))}} {
			got, err := readBody(r.r, tc.announced, limit)
			if err != nil {
				t.Fatalf("%s, %s: %v", tc.name, r.name, err)
			}
			want := body[:min(len(body), limit+1)]
			if !bytes.Equal(got, want) {
				t.Errorf("%s, %s: read %d bytes, want the first %d", tc.name, r.name, len(got), len(want))
			}
			if tc.announced == int64(tc.size) && tc.size <= limit && cap(got) != tc.size+1 {
				t.Errorf("%s, %s: buffer of %d bytes for %d announced: grown", tc.name, r.name, cap(got), tc.size)
			}
		}
	}
	// A read error after some bytes is returned with them.
	broken := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errors.New("connection reset")))
	if got, err := readBody(broken, 100, limit); err == nil || string(got) != "partial" {
		t.Errorf("broken body: %q, %v; want \"partial\" and the error", got, err)
	}
}
