// fuzz_test.go: fuzzing the URL normaliser.

package urlx

import (
	"net/url"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/internal/fuzzmem"
)

// FuzzNormalize: any string is normalized or refused without a panic, and
// a normalized URL is a fixed point (dedup relies on that: the same page
// must get the same key however often it is normalized).
func FuzzNormalize(f *testing.F) {
	c, err := ParseCanonicalization([]string{"resolve_dot_segments", "normalize_percent_encoding", "remove_fragment"})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"http://A.com:80/a/./b/../c?x#y", "https://h/%7e%2f%zz", "http://user:pw@h/", "http://[::1]:8080/x", "ftp://x/", "http://h/a b", "HTTP://h/../../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var u string
		var err error
		fuzzmem.Check(t, len(raw), 64, 64<<10, func() { u, err = c.Normalize(raw) })
		if err != nil {
			return
		}
		again, err := c.Normalize(u)
		if err != nil {
			t.Fatalf("%q normalized to %q, which is refused: %v", raw, u, err)
		}
		if again != u {
			t.Fatalf("%q normalized to %q, then to %q", raw, u, again)
		}
		_ = Host(u)
		_, _ = SplitOrigin(u)
	})
}

// FuzzPlainlyCanonical holds Normalize's shortcut to what parsing says:
// under every combination of the optional steps, a URL the shortcut takes
// as canonical is one normalize returns unchanged. (The converse is not
// asked: the shortcut may leave a canonical URL to the parser.)
func FuzzPlainlyCanonical(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "https://a.b:8443/p/q.html?x=1&y=2", "http://h/a/./b", "http://h/..", "http://h/a?",
		"http://h:80/", "https://h:443/", "http://h:080/", "http://H/", "http://h/%7e", "http://h/%2F%C3%A9", "http://h/a%2",
		"http://h/a!$&'()*+,;=:@b?c/d?e", "http://h//a", "http://h/a#f", "http://h/a b", "http://u@h/", "http://h/?q=..", "http://h/a/..?q",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, c := range allCanonicalizations() {
			if !c.PlainlyCanonical(raw) {
				continue
			}
			u, err := c.normalize(raw)
			if err != nil || u != raw {
				t.Fatalf("%+v: %q taken as canonical, but normalize gives %q, %v", c, raw, u, err)
			}
		}
	})
}

// allCanonicalizations is every combination of the optional steps.
func allCanonicalizations() []Canonicalization {
	var all []Canonicalization
	for bits := range 8 {
		all = append(all, Canonicalization{ResolveDotSegments: bits&1 != 0, NormalizePercentEncoding: bits&2 != 0, RemoveFragment: bits&4 != 0})
	}
	return all
}

// FuzzPlainHost holds Host's shortcut to the parser's answer.
func FuzzPlainHost(f *testing.F) {
	for _, s := range []string{"http://example.com/", "https://a.b:8443?x", "http://h:80#f", "http://h", "http://H/", "http://u@h/", "http://[::1]/", "http://h:x/", "https://h:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		host, ok := plainHost(raw)
		if !ok {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			return // documented: plainHost names the host of a URL the parser refuses after it
		}
		if want := strings.ToLower(u.Hostname()); host != want {
			t.Fatalf("%q: plainHost %q, parsed %q", raw, host, want)
		}
	})
}
