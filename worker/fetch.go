// fetch.go: the HTTP fetcher: one request per URL with the worker's limits
// (size, time, redirects, proxy), and its errors as status codes.

package worker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/dnscache"
)

// ProxyURL builds the proxy address of the proxy_* settings, or nil when
// host is empty.
func ProxyURL(host string, port int, username, password string) *url.URL {
	if strings.TrimSpace(host) == "" {
		return nil
	}
	u := &url.URL{Scheme: "http", Host: net.JoinHostPort(strings.TrimSpace(host), strconv.Itoa(port))}
	if username != "" {
		u.User = url.UserPassword(username, password)
	}
	return u
}

// FetchOptions configures a Fetcher.
type FetchOptions struct {
	UserAgent            string
	MaxClients           int
	RequestTimeout       time.Duration
	ConnectTimeout       time.Duration
	FollowRedirects      bool
	MaxRedirects         int
	ValidateCertificates bool
	MaxContentLength     int64
	// Proxy, when set, is the HTTP proxy of every fetch (its user info
	// authenticates); nil uses the environment's, if any. Proxies instead
	// are taken in turn, each failing one left out for ProxyBackoff and
	// more (proxyPool).
	Proxy        *url.URL
	Proxies      []*url.URL
	ProxyBackoff time.Duration
	// Requests are the headers sent (with UserAgent when it has none);
	// Filter decides which bodies are read.
	Requests RequestRules
	Filter   ResponseFilter
	// DNS resolves host names once per host (with static mappings); nil
	// resolves at every connection.
	DNS *dnscache.Cache
}

// Fetcher performs the HTTP GET of a CrawlUri and records the response in it.
type Fetcher struct {
	opts    FetchOptions
	client  *http.Client
	proxies *proxyPool // nil: one proxy or none
}

// NewFetcher builds a fetcher with its own connection pool.
func NewFetcher(opts FetchOptions) *Fetcher {
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if opts.DNS != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ip, err := opts.DNS.Lookup(ctx, host)
			if err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort(ip, port))
		}
	}
	// Every connection can record the exchanges it carries (capture.go);
	// it copies bytes only for a fetch whose records are archived.
	tlsConfig := &tls.Config{InsecureSkipVerify: !opts.ValidateCertificates} //nolint:gosec // an operator's choice (validate_certificates)
	if opts.Requests.UserAgent == "" {
		opts.Requests.UserAgent = opts.UserAgent
	}
	proxy := http.ProxyFromEnvironment
	var pool *proxyPool
	switch {
	case len(opts.Proxies) > 0:
		pool, proxy = newProxyPool(opts.Proxies, opts.ProxyBackoff), proxyOf
	case opts.Proxy != nil:
		proxy = http.ProxyURL(opts.Proxy)
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           recordingDial(dial),
		DialTLSContext:        recordingTLSDial(dial, tlsConfig, opts.ConnectTimeout),
		MaxIdleConns:          opts.MaxClients * 4,
		MaxIdleConnsPerHost:   opts.MaxClients,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.RequestTimeout,
		TLSClientConfig:       tlsConfig, // for HTTPS through a proxy
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   opts.RequestTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if set, ok := req.Context().Value(setCookiesKey{}).(*setCookies); ok {
				set.add(req.Response)
			}
			if u := via[0].URL; u.Path == "/robots.txt" && u.RawQuery == "" {
				// RFC 9309 2.3.1.2: a crawler follows at least five
				// redirects of a robots.txt, whatever it does for pages:
				// the master needs the file, not its Location.
				if len(via) > robotsMaxRedirects {
					return http.ErrUseLastResponse
				}
				return nil
			}
			if !opts.FollowRedirects {
				return http.ErrUseLastResponse
			}
			if len(via) > opts.MaxRedirects {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return &Fetcher{opts: opts, client: client, proxies: pool}
}

// robotsMaxRedirects is how many redirects of a robots.txt are followed.
const robotsMaxRedirects = 5

// Close releases idle connections.
func (f *Fetcher) Close() { f.client.CloseIdleConnections() }

// Fetch requests c.URL (conditionally, when the master sent validators) and
// fills in status, headers sent and received, body and timing. A request
// that fails without a response becomes status 599 with the error text.
//
// When the fetch is archived (ArchiveDir, Capture), the exchange is also
// recorded as it crossed the connection (RawRequest, RawResponse,
// RemoteIP).
func (f *Fetcher) Fetch(ctx context.Context, c *crawluri.CrawlUri) {
	start := time.Now()
	var cp *capture
	if c.ArchiveDir != "" || c.Capture {
		cp = &capture{limit: int(min(f.opts.MaxContentLength, math.MaxInt32)) + maxCapturedHead}
		ctx = httptrace.WithClientTrace(ctx, cp.trace())
	}
	ctx, viaProxy := f.withProxy(ctx)
	set := &setCookies{}
	ctx = context.WithValue(ctx, setCookiesKey{}, set)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		c.StatusCode, c.Error = crawluri.StatusTransportError, fmt.Sprintf("building request: %v", err)
		return
	}
	f.opts.Requests.apply(req)
	if ck := c.ReqHeader["Cookie"]; ck != "" {
		req.Header.Set("Cookie", ck) // the master's cookie jar's
	}
	if etag := c.ReqHeader["Etag"]; etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lm := c.ReqHeader["Last-Modified"]; lm != "" {
		req.Header.Set("If-Modified-Since", lm)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if cp != nil {
			cp.finish()
		}
		c.StatusCode, c.Error = crawluri.StatusTransportError, transportError(err)
		c.ReqTime = time.Since(start).Seconds()
		f.proxyOutcome(c, viaProxy, err)
		return
	}
	defer resp.Body.Close()
	f.proxyOutcome(c, viaProxy, nil)
	set.add(resp)
	if len(set.lines) > 0 {
		c.SetVar(crawluri.VarSetCookie, strings.Join(set.lines, "\n"))
	}

	if why := f.opts.Filter.skip(resp.Request.URL, resp); why != "" {
		// Neither read nor kept: the result has the status and headers.
		f.skipped(c, req, resp, why, start, cp)
		return
	}
	limit := f.opts.MaxContentLength
	if f.opts.Filter.MaxSize > 0 && f.opts.Filter.MaxSize < limit {
		limit = f.opts.Filter.MaxSize
	}
	body, err := readBody(resp.Body, resp.ContentLength, limit)
	if f.opts.Filter.MaxSize > 0 && int64(len(body)) > f.opts.Filter.MaxSize && err == nil {
		f.skipped(c, req, resp, fmt.Sprintf("size: the body is over max_response_size %d", f.opts.Filter.MaxSize), start, cp)
		return
	}
	c.ReqTime = time.Since(start).Seconds()
	if cp != nil && cp.finish() && err == nil {
		c.RawRequest, c.RawResponse, c.RemoteIP = withoutProxyAuthorization(cp.request), cp.response, cp.ip
		if cp.cut {
			c.SetVar(crawluri.VarTruncated, crawluri.VarTrue)
		}
	}
	if err != nil {
		c.StatusCode, c.Error = crawluri.StatusTransportError, "reading body: "+transportError(err)
		return
	}
	if int64(len(body)) > f.opts.MaxContentLength {
		body = body[:f.opts.MaxContentLength]
		c.SetVar(crawluri.VarTruncated, crawluri.VarTrue)
	}
	c.StatusCode = int16(resp.StatusCode)
	c.EffectiveURL = resp.Request.URL.String()
	c.ReqHeader = flatten(req.Header)
	c.RepHeader = flatten(resp.Header)
	c.ContentBody = body
}

// setCookies collects the cookies a fetch's responses set, its
// redirects' too, for the master's cookie jar (VarSetCookie).
type setCookies struct{ lines []string }

type setCookiesKey struct{}

// maxSetCookies bounds the cookies a fetch reports.
const maxSetCookies = 64

func (s *setCookies) add(resp *http.Response) {
	if resp == nil {
		return
	}
	for _, v := range resp.Header.Values("Set-Cookie") {
		if len(s.lines) < maxSetCookies && !strings.ContainsAny(v, "\r\n\t") {
			s.lines = append(s.lines, resp.Request.URL.String()+"\t"+v)
		}
	}
}

// skipped records a response whose body the filter leaves out (why): its
// status and headers, no body, nothing recorded for the archive.
func (f *Fetcher) skipped(c *crawluri.CrawlUri, req *http.Request, resp *http.Response, why string, start time.Time, cp *capture) {
	if cp != nil {
		cp.finish()
	}
	c.ReqTime = time.Since(start).Seconds()
	c.StatusCode = int16(resp.StatusCode)
	c.EffectiveURL = resp.Request.URL.String()
	c.ReqHeader = flatten(req.Header)
	c.RepHeader = flatten(resp.Header)
	c.SetVar(crawluri.VarSkipped, why)
	c.SetVar(crawluri.VarExtractionFinished, crawluri.VarTrue)
}

// withoutProxyAuthorization is a recorded request head without its
// Proxy-Authorization line: the proxy's credentials are the operator's,
// not part of the exchange with the site, and must not end up in an
// archive.
func withoutProxyAuthorization(head []byte) []byte {
	const name = "proxy-authorization:"
	out := head[:0:0]
	for line := range bytes.Lines(head) {
		if len(line) >= len(name) && strings.EqualFold(string(line[:len(name)]), name) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

// readBody reads at most limit+1 bytes of r (one more than kept, to tell
// a body of exactly limit bytes from a longer one). Its buffer starts at
// the announced length, when the response has one: io.ReadAll starts at
// 512 bytes and grows by copying, which was a seventh of a worker's CPU on
// 20 KB pages (growing and clearing the buffers, and the collections they
// caused). A length is only a hint: up to presizeMax is believed, and a
// body longer or shorter than announced is read all the same.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	size := int64(512)
	if contentLength >= 0 {
		size = min(contentLength, limit, presizeMax) + 1 // +1: EOF is read without growing
	}
	buf := make([]byte, 0, size)
	lr := io.LimitedReader{R: r, N: limit + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grows as append does
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// presizeMax is the largest announced length a body buffer starts at.
const presizeMax = 4 << 20

func flatten(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

// transportError shortens net/http's error chain to its useful part.
func transportError(err error) string {
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return "timeout: " + err.Error()
	}
	return err.Error()
}
