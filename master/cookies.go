// cookies.go: the crawl's cookie jar (cookies: true). The master keeps it:
// a host's URLs go to any worker, and its session must follow them. The
// cookies a response sets come back with its result (VarSetCookie), the
// matching ones go out with each URL (its Cookie header), and each is
// kept with the crawl state (frontier.CookieKeeper), so a restarted crawl
// keeps its sessions.

package master

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
)

// cookieJar matches cookies to URLs as RFC 6265 says, with net/http's
// jar and the public suffix list (a cookie for a whole domain, never for
// a public suffix); what it adds is their persistence, cookie by cookie,
// and bounds on what a hostile site can make the crawl keep.
type cookieJar struct {
	jar *cookiejar.Jar
	// perHost counts the cookies kept for each host, for maxCookiesPerHost.
	perHost map[string]map[string]bool
}

// Bounds on a site's cookies: browsers keep about 180 per domain and read
// a few dozen per response; a crawl needs no more.
const (
	maxCookiesPerHost   = 64
	maxCookiesPerResult = 32
)

// newCookieJar makes the jar, with the cookies keep has (nil: a store
// that keeps none; they are sent again from the first dispatch: a restart
// keeps the sessions).
func newCookieJar(keep frontier.CookieKeeper, now time.Time) (*cookieJar, int, error) {
	jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	if err != nil {
		return nil, 0, err
	}
	j := &cookieJar{jar: jar, perHost: map[string]map[string]bool{}}
	if keep == nil {
		return j, 0, nil
	}
	n := 0
	err = keep.Cookies(func(key, value string) error {
		raw, line, ok := strings.Cut(value, "\t")
		u, err := url.Parse(raw)
		if !ok || err != nil {
			return nil // (not one this master wrote: left alone)
		}
		ck, err := http.ParseSetCookie(line)
		if err != nil || !ck.Expires.IsZero() && ck.Expires.Before(now) {
			return nil
		}
		j.jar.SetCookies(u, []*http.Cookie{ck})
		j.count(u.Hostname(), key)
		n++
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the crawl's cookies: %w", err)
	}
	return j, n, nil
}

// count notes key as one of host's cookies; false when host has its fill.
func (j *cookieJar) count(host, key string) bool {
	keys := j.perHost[host]
	if keys == nil {
		keys = map[string]bool{}
		j.perHost[host] = keys
	}
	if !keys[key] && len(keys) >= maxCookiesPerHost {
		return false
	}
	keys[key] = true
	return true
}

// header is the Cookie header for a URL ("" for none). A crawl of sites
// that set no cookies pays nothing for it per dispatch.
func (j *cookieJar) header(raw string) string {
	if len(j.perHost) == 0 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	cks := j.jar.Cookies(u)
	if len(cks) == 0 {
		return ""
	}
	parts := make([]string, len(cks))
	for i, ck := range cks {
		parts[i] = ck.Name + "=" + ck.Value
	}
	return strings.Join(parts, "; ")
}

// received takes the cookies a result's responses set: they go into the
// jar, and into keep (or, expired, out of it; keep nil: a store that keeps
// none). It returns how many were refused: malformed, beyond the bounds.
func (j *cookieJar) received(c *crawluri.CrawlUri, keep frontier.CookieKeeper, now time.Time) (refused int, err error) {
	lines := c.Var(crawluri.VarSetCookie)
	if lines == "" {
		return 0, nil
	}
	taken := 0
	for entry := range strings.Lines(lines) {
		raw, line, ok := strings.Cut(strings.TrimSuffix(entry, "\n"), "\t")
		u, perr := url.Parse(raw)
		ck, cerr := http.ParseSetCookie(line)
		if !ok || perr != nil || cerr != nil || u.Hostname() == "" || taken == maxCookiesPerResult || !domainFor(ck.Domain, u.Hostname()) {
			refused++
			continue
		}
		taken++
		if ck.MaxAge > 0 {
			// Kept as an expiry date: replayed after a restart, a
			// Max-Age would count from then.
			ck.Expires, ck.MaxAge = now.Add(time.Duration(ck.MaxAge)*time.Second).UTC(), 0
		}
		gone := ck.MaxAge < 0 || !ck.Expires.IsZero() && !ck.Expires.After(now)
		key := u.Hostname() + "\x00" + ck.Name + "\x00" + strings.ToLower(ck.Domain) + "\x00" + ck.Path
		if !gone && !j.count(u.Hostname(), key) {
			refused++
			continue
		}
		j.jar.SetCookies(u, []*http.Cookie{ck})
		if keep == nil {
			continue
		}
		value := ""
		if !gone {
			value = u.String() + "\t" + ck.String()
		} else if keys := j.perHost[u.Hostname()]; keys != nil {
			delete(keys, key)
		}
		if err := keep.SaveCookie(key, value); err != nil {
			return refused, fmt.Errorf("keeping a cookie of %s: %w", u.Hostname(), err)
		}
	}
	return refused, nil
}

// domainFor reports whether a cookie's Domain attribute may be set by
// host (RFC 6265 5.3): none, or a domain host is in that is not a public
// suffix. The jar enforces it too; refusing here keeps such cookies out of
// the crawl state.
func domainFor(domain, host string) bool {
	domain = strings.ToLower(strings.TrimPrefix(domain, "."))
	host = strings.ToLower(host)
	if domain == "" || domain == host {
		return true
	}
	if !strings.HasSuffix(host, "."+domain) {
		return false
	}
	suffix, _ := publicsuffix.PublicSuffix(domain)
	return suffix != domain
}
