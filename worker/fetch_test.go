package worker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
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
