// requests.go: the request controls: headers and user agents by host,
// the proxies taken in turn with a back-off for those that fail, and the
// response filters by type and size.

package worker

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

// RequestRules are the headers of every request: the user agent, the
// default headers, and those of the hosts a rule matches.
type RequestRules struct {
	UserAgent      string
	Defaults       []settings.HostRule // (no pattern)
	HostHeaders    []settings.HostRule
	HostUserAgents []settings.HostRule
}

// NewRequestRules reads the request settings (validated already: an entry
// that does not parse is an error here too).
func NewRequestRules(s *settings.Settings) (RequestRules, error) {
	r := RequestRules{UserAgent: s.UserAgent}
	for _, e := range s.DefaultRequestHeaders {
		name, value, err := settings.HeaderEntry(e)
		if err != nil {
			return r, fmt.Errorf("default_request_headers: %w", err)
		}
		r.Defaults = append(r.Defaults, settings.HostRule{Name: name, Value: value})
	}
	for _, e := range s.HostRequestHeaders {
		h, err := settings.HostHeaderEntry(e)
		if err != nil {
			return r, fmt.Errorf("host_request_headers: %w", err)
		}
		r.HostHeaders = append(r.HostHeaders, h)
	}
	for _, e := range s.HostUserAgents {
		h, err := settings.HostUserAgentEntry(e)
		if err != nil {
			return r, fmt.Errorf("host_user_agents: %w", err)
		}
		r.HostUserAgents = append(r.HostUserAgents, h)
	}
	return r, nil
}

// apply sets the headers of req, by its URL's host.
func (r *RequestRules) apply(req *http.Request) {
	host := strings.ToLower(req.URL.Hostname())
	ua := r.UserAgent
	for _, h := range r.HostUserAgents {
		if settings.HostMatches(h.Pattern, host) {
			ua = h.Value
			break
		}
	}
	req.Header.Set("User-Agent", ua)
	for _, h := range r.Defaults {
		req.Header.Set(h.Name, h.Value)
	}
	for _, h := range r.HostHeaders {
		if settings.HostMatches(h.Pattern, host) {
			req.Header.Set(h.Name, h.Value)
		}
	}
}

// ResponseFilter decides which responses' bodies are read and kept.
type ResponseFilter struct {
	ContentTypes []string // media types, or "type/*"; empty: all
	MaxSize      int64    // 0: no limit
}

// NewResponseFilter reads content_types and max_response_size.
func NewResponseFilter(s *settings.Settings) (ResponseFilter, error) {
	f := ResponseFilter{MaxSize: s.MaxResponseSize}
	for _, e := range s.ContentTypes {
		t, err := settings.ContentTypeEntry(e)
		if err != nil {
			return f, fmt.Errorf("content_types: %w", err)
		}
		f.ContentTypes = append(f.ContentTypes, t)
	}
	return f, nil
}

// skip says why resp's body is not to be read ("" to read it): its type
// is not among ContentTypes (a response without a type is read: it may be
// anything), or its Content-Length is over MaxSize. A robots.txt is always
// read: the crawl's politeness needs it.
func (f *ResponseFilter) skip(u *url.URL, resp *http.Response) string {
	if u.Path == "/robots.txt" {
		return ""
	}
	if f.MaxSize > 0 && resp.ContentLength > f.MaxSize {
		return fmt.Sprintf("size: Content-Length %d over max_response_size %d", resp.ContentLength, f.MaxSize)
	}
	if len(f.ContentTypes) == 0 {
		return ""
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	}
	for _, want := range f.ContentTypes {
		if typ, ok := strings.CutSuffix(want, "/*"); ok && strings.HasPrefix(mt, typ+"/") || mt == want {
			return ""
		}
	}
	return fmt.Sprintf("content_type: %s is not in content_types", mt)
}

// A proxyPool hands out its proxies in turn, leaving out for a while the
// ones that failed: a proxy that cannot be connected to, or fails the
// tunnel, is out for the back-off, doubled with each failure in a row (up
// to 32 times); its first success clears it.
type proxyPool struct {
	backoff time.Duration

	mu      sync.Mutex
	proxies []*proxyState
	next    int
}

type proxyState struct {
	url      *url.URL
	failures int
	outUntil time.Time
}

// newProxyPool is the pool of proxies, with a back-off of at least a
// second.
func newProxyPool(proxies []*url.URL, backoff time.Duration) *proxyPool {
	p := &proxyPool{backoff: max(backoff, time.Second)}
	for _, u := range proxies {
		p.proxies = append(p.proxies, &proxyState{url: u})
	}
	return p
}

// take is the proxy of the next fetch: the next in turn that is not left
// out, or, when all are, the one back soonest (the fetch then tells
// whether it is).
func (p *proxyPool) take(now time.Time) *proxyState {
	p.mu.Lock()
	defer p.mu.Unlock()
	var soonest *proxyState
	for range p.proxies {
		ps := p.proxies[p.next]
		p.next = (p.next + 1) % len(p.proxies)
		if !now.Before(ps.outUntil) {
			return ps
		}
		if soonest == nil || ps.outUntil.Before(soonest.outUntil) {
			soonest = ps
		}
	}
	return soonest
}

// done records how a fetch through ps went: failed is a failure of the
// proxy itself (it could not be reached, or refused the tunnel).
func (p *proxyPool) done(ps *proxyState, failed bool, now time.Time) (outFor time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !failed {
		ps.failures, ps.outUntil = 0, time.Time{}
		return 0
	}
	ps.failures++
	outFor = p.backoff << min(ps.failures-1, 5)
	ps.outUntil = now.Add(outFor)
	return outFor
}

// proxyKey carries a fetch's proxy to the transport's Proxy function.
type proxyKey struct{}

// proxyOf is the transport's Proxy function with a pool: the proxy the
// fetch took (proxyKey).
func proxyOf(req *http.Request) (*url.URL, error) {
	if ps, ok := req.Context().Value(proxyKey{}).(*proxyState); ok {
		return ps.url, nil
	}
	return nil, nil
}

// proxyFailed reports whether a transport error is the proxy's own: it
// could not be connected to, or refused the CONNECT tunnel for want of
// credentials. (A 502 to CONNECT is the origin's failure, seen through the
// proxy: not counted.)
func proxyFailed(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "proxyconnect") || strings.Contains(msg, "Proxy Authentication Required")
}

// withProxy puts the pool's next proxy in ctx for the transport.
func (f *Fetcher) withProxy(ctx context.Context) (context.Context, *proxyState) {
	if f.proxies == nil {
		return ctx, nil
	}
	ps := f.proxies.take(time.Now())
	return context.WithValue(ctx, proxyKey{}, ps), ps
}

// proxyOutcome tells the pool how the fetch through ps went, and says so
// in the result when the proxy is left out.
func (f *Fetcher) proxyOutcome(c *crawluri.CrawlUri, ps *proxyState, err error) {
	if ps == nil {
		return
	}
	failed := err != nil && proxyFailed(err)
	if d := f.proxies.done(ps, failed, time.Now()); d > 0 {
		c.Error += fmt.Sprintf(" (proxy %s left out for %v)", ps.url.Redacted(), d)
	}
}
