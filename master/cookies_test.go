package master

import (
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// memCookies is a CookieKeeper in memory.
type memCookies map[string]string

func (m memCookies) SaveCookie(k, v string) error {
	if v == "" {
		delete(m, k)
	} else {
		m[k] = v
	}
	return nil
}

func (m memCookies) Cookies(fn func(k, v string) error) error {
	for k, v := range m {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func setCookies(lines ...string) *crawluri.CrawlUri {
	c := &crawluri.CrawlUri{}
	c.SetVar(crawluri.VarSetCookie, strings.Join(lines, "\n"))
	return c
}

// TestCookieJar: cookies set by responses go back to the URLs RFC 6265
// matches, survive a reload from the keeper (Max-Age as an expiry), are
// deleted by an expired Set-Cookie, and a host's are bounded.
func TestCookieJar(t *testing.T) {
	now := time.Now()
	keep := memCookies{}
	j, _, err := newCookieJar(keep, now)
	if err != nil {
		t.Fatal(err)
	}
	refused, err := j.received(setCookies(
		"http://a.example.com/login\tsid=1; Path=/",
		"http://a.example.com/login\tdomainwide=2; Domain=example.com; Path=/; Max-Age=3600",
		"http://a.example.com/login\tgone=3; Path=/; Max-Age=1",
		"http://a.example.com/login\tpublic=4; Domain=com; Path=/",
		"not a url\tx=1",
		"http://a.example.com/\tno equals sign",
	), keep, now)
	if err != nil || refused != 3 {
		t.Fatalf("received: %d refused, %v; want the two malformed ones and the public suffix's", refused, err)
	}
	for u, want := range map[string]string{
		"http://a.example.com/page": "sid=1; domainwide=2; gone=3",
		"http://b.example.com/":     "domainwide=2",
		"http://other.com/":         "",
	} {
		if got := j.header(u); got != want {
			t.Errorf("Cookie for %s: %q, want %q", u, got, want)
		}
	}
	// A later response deletes one (an expiry in the past).
	j.received(setCookies("http://a.example.com/\tsid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), keep, now)
	if got := j.header("http://a.example.com/"); got != "domainwide=2; gone=3" {
		t.Errorf("after the deletion: %q", got)
	}
	// A restart two seconds later: what is kept comes back, bar what
	// expired meanwhile.
	again, n, err := newCookieJar(keep, now.Add(2*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("reloaded %d cookies, %v; want domainwide alone (%v)", n, err, keep)
	}
	if got := again.header("http://c.example.com/"); got != "domainwide=2" {
		t.Errorf("after the reload: %q", got)
	}
	// A host's cookies are bounded, and so are a result's.
	var many []string
	for i := range maxCookiesPerResult + 5 {
		many = append(many, "http://flood.test/\tc"+strings.Repeat("x", i)+"=1")
	}
	if refused, _ := j.received(setCookies(many...), keep, now); refused != 5 {
		t.Errorf("a result with %d cookies: %d refused, want 5", len(many), refused)
	}
	refused = 0
	for i := range 3 {
		var more []string
		for k := range maxCookiesPerResult {
			more = append(more, "http://flood.test/\tm"+strings.Repeat("y", i*100+k)+"=1")
		}
		r, _ := j.received(setCookies(more...), keep, now)
		refused += r
	}
	if kept := len(j.perHost["flood.test"]); kept != maxCookiesPerHost || refused != maxCookiesPerResult*4-maxCookiesPerHost {
		t.Errorf("flood.test: %d kept, %d refused; want %d kept", kept, refused, maxCookiesPerHost)
	}
}
