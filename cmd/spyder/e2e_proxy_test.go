// e2e_proxy_test.go: a crawl through an HTTP proxy.

package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"testing"
)

// TestCrawlThroughProxy crawls a two-host site with proxy_* set: a local
// forward proxy that demands its credentials forwards every request, and
// the site's own log shows no request the proxy did not forward.
func TestCrawlThroughProxy(t *testing.T) {
	site := startSiteOn(t, []string{"127.0.0.2", "127.0.0.3"}, 8, 0)
	var mu sync.Mutex
	forwarded := map[string]int{}
	rejected := 0
	forward := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.URL = pr.In.URL // a forward proxy receives the absolute URL
		pr.Out.Host = pr.In.Host
	}}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := (&http.Request{Header: http.Header{"Authorization": r.Header["Proxy-Authorization"]}}).BasicAuth()
		mu.Lock()
		if !ok || user != "crawler" || pass != "s3cret" || !r.URL.IsAbs() {
			rejected++
			mu.Unlock()
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		forwarded[r.URL.Host+r.URL.RequestURI()]++
		mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	_, port, _ := net.SplitHostPort(proxy.Listener.Addr().String())

	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0", "SPYDER_PROXY_HOST=127.0.0.1", "SPYDER_PROXY_PORT="+port,
		"SPYDER_PROXY_USERNAME=crawler", "SPYDER_PROXY_PASSWORD=s3cret")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
	waitClean(t, m, w)
	checkCrawl(t, site, dir+"/out.jsonl")

	mu.Lock()
	defer mu.Unlock()
	served := 0
	for _, r := range site.Log() {
		served++
		if forwarded[r.Host+r.Path] == 0 {
			t.Errorf("the site served %s%s without the proxy", r.Host, r.Path)
		}
	}
	total := 0
	for _, n := range forwarded {
		total += n
	}
	if served == 0 || total != served || rejected != 0 {
		t.Fatalf("site served %d requests, proxy forwarded %d, rejected %d", served, total, rejected)
	}
}
