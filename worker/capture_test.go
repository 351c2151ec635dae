// capture_test.go: fetches recorded as they crossed the connection.

package worker

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// TestFetchRecordsTheWire: an archived fetch keeps the response as the
// server sent it — protocol version, header case and order, repeated
// headers, chunking and gzip — and the request as it went out, while the
// pipeline still gets the decoded body.
func TestFetchRecordsTheWire(t *testing.T) {
	page := []byte("<html><a href=/x>x</a></html>")
	zpage := gzipped(page)
	chunkedGzip := "HTTP/1.1 200 OK\r\ncontent-TYPE: text/html\r\nSet-Cookie: a=1\r\nX-Order: z\r\nSet-Cookie: b=2\r\n" +
		"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
		strconv.FormatInt(int64(len(zpage[:10])), 16) + "\r\n" + string(zpage[:10]) + "\r\n" +
		strconv.FormatInt(int64(len(zpage[10:])), 16) + "\r\n" + string(zpage[10:]) + "\r\n0\r\n\r\n"
	http10 := "HTTP/1.0 200 Fine\r\nContent-Type: text/plain\r\n\r\nold server, body until close"
	keepAlive := func(body string) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	srv := testsite.StartRawServer(t, func(path string) ([]byte, bool) {
		switch path {
		case "/chunked-gzip":
			return []byte(chunkedGzip), false
		case "/http10":
			return []byte(http10), true
		case "/one":
			return []byte(keepAlive("first")), false
		case "/two":
			return []byte(keepAlive("second, longer")), false
		case "/moved":
			return []byte("HTTP/1.1 301 Moved\r\nLocation: /one\r\nContent-Length: 0\r\n\r\n"), false
		}
		return []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), false
	})
	f := NewFetcher(FetchOptions{UserAgent: "spyder-test/1", MaxClients: 1, RequestTimeout: 2 * time.Second,
		ConnectTimeout: time.Second, FollowRedirects: true, MaxRedirects: 3, MaxContentLength: 1 << 20})
	defer f.Close()
	fetch := func(path string, archive bool) *crawluri.CrawlUri {
		c := &crawluri.CrawlUri{URL: srv.URL(path), Capture: archive}
		f.Fetch(context.Background(), c)
		if c.StatusCode != 200 {
			t.Fatalf("%s: status %d %s", path, c.StatusCode, c.Error)
		}
		return c
	}

	c := fetch("/chunked-gzip", true)
	if string(c.RawResponse) != chunkedGzip {
		t.Errorf("chunked gzip response recorded as\n%q\nwant\n%q", c.RawResponse, chunkedGzip)
	}
	if !bytes.Equal(c.ContentBody, page) {
		t.Errorf("the pipeline got %q, want the decoded page", c.ContentBody)
	}
	if c.RemoteIP != "127.0.0.1" {
		t.Errorf("remote IP %q", c.RemoteIP)
	}
	if req := srv.Request(0); !bytes.Equal(c.RawRequest, req) {
		t.Errorf("request recorded as\n%q\nthe server got\n%q", c.RawRequest, req)
	}

	c = fetch("/http10", true)
	if string(c.RawResponse) != http10 {
		t.Errorf("HTTP/1.0 response recorded as %q", c.RawResponse)
	}

	// One kept-alive connection, two fetches: each records its own exchange.
	one, two := fetch("/one", true), fetch("/two", true)
	if string(one.RawResponse) != keepAlive("first") || string(two.RawResponse) != keepAlive("second, longer") {
		t.Errorf("kept-alive connection: recorded %q and %q", one.RawResponse, two.RawResponse)
	}
	if !bytes.HasPrefix(one.RawRequest, []byte("GET /one ")) || !bytes.HasPrefix(two.RawRequest, []byte("GET /two ")) {
		t.Errorf("kept-alive connection: requests %q and %q", one.RawRequest, two.RawRequest)
	}

	// A redirect followed: the exchange is the last hop's, the result's.
	moved := fetch("/moved", true)
	if string(moved.RawResponse) != keepAlive("first") || !bytes.HasPrefix(moved.RawRequest, []byte("GET /one ")) {
		t.Errorf("redirect: recorded %q for request %q", moved.RawResponse, moved.RawRequest)
	}

	// Not archived: nothing recorded.
	if plain := fetch("/one", false); plain.RawRequest != nil || plain.RawResponse != nil || plain.RemoteIP != "" {
		t.Errorf("a fetch not archived was recorded: %q", plain.RawResponse)
	}
}

// TestFetchRecordsTLSPlaintext: over HTTPS the recording is the HTTP
// message inside TLS, not the ciphertext.
func TestFetchRecordsTLSPlaintext(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Secret-Page", "yes")
		io.WriteString(w, "over tls")
	}))
	defer srv.Close()
	f := NewFetcher(FetchOptions{UserAgent: "spyder-test/1", MaxClients: 1, RequestTimeout: 2 * time.Second,
		ConnectTimeout: time.Second, MaxContentLength: 1000})
	defer f.Close()
	c := &crawluri.CrawlUri{URL: srv.URL + "/p", ArchiveDir: t.TempDir()}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || string(c.ContentBody) != "over tls" {
		t.Fatalf("status %d %s", c.StatusCode, c.Error)
	}
	if !bytes.HasPrefix(c.RawResponse, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.Contains(c.RawResponse, []byte("X-Secret-Page: yes\r\n")) ||
		!bytes.HasSuffix(c.RawResponse, []byte("\r\n\r\nover tls")) {
		t.Errorf("HTTPS response recorded as %q", c.RawResponse)
	}
	if !bytes.HasPrefix(c.RawRequest, []byte("GET /p HTTP/1.1\r\n")) {
		t.Errorf("HTTPS request recorded as %q", c.RawRequest)
	}
}

// TestFetchRecordsNoProxyCredentials: through a proxy, the request is
// recorded as sent except for the proxy's credentials.
func TestFetchRecordsNoProxyCredentials(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") == "" {
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		io.WriteString(w, "via proxy")
	}))
	defer proxy.Close()
	host, port, _ := net.SplitHostPort(proxy.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	f := NewFetcher(FetchOptions{UserAgent: "spyder-test/1", MaxClients: 1, RequestTimeout: time.Second, ConnectTimeout: time.Second,
		MaxContentLength: 1000, Proxy: ProxyURL(host, p, "crawler", "s3cret")})
	defer f.Close()
	c := &crawluri.CrawlUri{URL: "http://site.test/page", Capture: true}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 {
		t.Fatalf("status %d %s", c.StatusCode, c.Error)
	}
	if !bytes.HasPrefix(c.RawRequest, []byte("GET http://site.test/page HTTP/1.1\r\n")) || bytes.Contains(bytes.ToLower(c.RawRequest), []byte("proxy-authorization")) {
		t.Errorf("proxied request recorded as %q", c.RawRequest)
	}
	if !bytes.HasSuffix(c.RawResponse, []byte("via proxy")) {
		t.Errorf("proxied response recorded as %q", c.RawResponse)
	}
}

// TestFetchRecordingIsCut: a response longer than max_content_length is
// recorded up to the limit plus its head, and marked truncated.
func TestFetchRecordingIsCut(t *testing.T) {
	body := strings.Repeat("y", 5000)
	srv := testsite.StartRawServer(t, func(string) ([]byte, bool) {
		return []byte("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body), false
	})
	f := testFetcher() // max_content_length 1000
	defer f.Close()
	c := &crawluri.CrawlUri{URL: srv.URL("/big"), Capture: true}
	f.Fetch(context.Background(), c)
	if c.StatusCode != 200 || c.Var(crawluri.VarTruncated) != crawluri.VarTrue {
		t.Fatalf("status %d, truncated %q", c.StatusCode, c.Var(crawluri.VarTruncated))
	}
	head := "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
	if !strings.HasPrefix(string(c.RawResponse), head) || len(c.RawResponse) < len(head)+1000 || len(c.RawResponse) > len(head)+len(body) {
		t.Errorf("recorded %d bytes of a %d-byte response cut at 1,000 bytes of body", len(c.RawResponse), len(head)+len(body))
	}
}

// TestFetchTLSValidation: the fetcher's own TLS dial (which records the
// plaintext) still checks certificates when validate_certificates is on:
// a self-signed server is refused, and accepted with it off.
func TestFetchTLSValidation(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	for _, validate := range []bool{true, false} {
		f := NewFetcher(FetchOptions{UserAgent: "spyder-test/1", MaxClients: 1, RequestTimeout: 2 * time.Second,
			ConnectTimeout: time.Second, MaxContentLength: 1000, ValidateCertificates: validate})
		for _, archived := range []bool{true, false} {
			c := &crawluri.CrawlUri{URL: srv.URL + "/", Capture: archived}
			f.Fetch(context.Background(), c)
			refused := c.StatusCode == crawluri.StatusTransportError && strings.Contains(c.Error, "certificate")
			if refused != validate || (!validate && c.StatusCode != 200) {
				t.Errorf("validate %v, archived %v: status %d %q", validate, archived, c.StatusCode, c.Error)
			}
		}
		f.Close()
	}
}
