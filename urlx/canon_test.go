// canon_test.go: canonicalisation.

package urlx

import (
	"errors"
	"strings"
	"testing"
)

// TestCanonicalization checks each optional step on and off, with RFC
// 3986's examples of dot-segment removal (section 5.4) and
// percent-encoding normalization (section 6.2.2.2).
func TestCanonicalization(t *testing.T) {
	full := FullCanonicalization()
	none := Canonicalization{}
	for _, tc := range []struct {
		name  string
		canon Canonicalization
		in    string
		want  string
	}{
		{"always: case, default port, empty path", none, "HTTP://Example.COM:80", "http://example.com/"},
		{"always: https default port", none, "https://A.example:443/x", "https://a.example/x"},
		{"other ports stay", full, "http://example.com:8080/", "http://example.com:8080/"},

		{"dots: RFC 5.4.1 ../../g", full, "http://a/b/c/d;p/../../g", "http://a/b/g"},
		{"dots: RFC 5.4.1 ./g", full, "http://a/b/c/./g", "http://a/b/c/g"},
		{"dots: RFC 5.4.2 above the root", full, "http://a/../../../g", "http://a/g"},
		{"dots: RFC 5.4.2 g. is a name", full, "http://a/b/c/g.", "http://a/b/c/g."},
		{"dots: RFC 5.4.2 ..g is a name", full, "http://a/b/c/..g", "http://a/b/c/..g"},
		{"dots: RFC 5.4.2 ./../g", full, "http://a/b/c/./../g", "http://a/b/g"},
		{"dots: RFC 5.4.2 g/./h", full, "http://a/b/c/g/./h", "http://a/b/c/g/h"},
		{"dots: trailing .. keeps the slash", full, "http://a/b/c/..", "http://a/b/"},
		{"dots: trailing . keeps the slash", full, "http://a/b/c/.", "http://a/b/c/"},
		{"dots: empty segments stay", full, "http://a/b//c/../d", "http://a/b//d"},
		{"dots: query untouched", full, "http://a/b/../c?x=../y", "http://a/c?x=../y"},
		{"dots: off", none, "http://a/b/../c", "http://a/b/../c"},

		{"percent: unreserved decoded", full, "http://a/%7Euser/%41%62%2d%5F%2E", "http://a/~user/Ab-_."},
		{"percent: reserved upper-cased, kept", full, "http://a/x%2fy%3a", "http://a/x%2Fy%3A"},
		{"percent: query too", full, "http://a/?q=%7e%2a&r=%41", "http://a/?q=~%2A&r=A"},
		{"percent: spaces stay encoded", full, "http://a/a%20b", "http://a/a%20b"},
		{"percent: malformed escapes left alone in the query", full, "http://a/?q=%zz%4", "http://a/?q=%zz%4"},
		{"percent: off", none, "http://a/%7euser?q=%7e", "http://a/%7euser?q=%7e"},

		{"fragment: removed", full, "http://a/b?x=1#frag", "http://a/b?x=1"},
		{"fragment: kept when off", none, "http://a/b#frag", "http://a/b#frag"},

		{"credentials stay", full, "http://user:pw@Example.com/", "http://user:pw@example.com/"},
		{"IPv6 host", full, "http://[::1]:80/x", "http://[::1]/x"},
		{"spaces trimmed", full, "  http://127.0.0.2:1234/page/1.html  ", "http://127.0.0.2:1234/page/1.html"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.canon.Normalize(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			// Canonical forms are fixed points.
			if again, err := tc.canon.Normalize(got); err != nil || again != got {
				t.Fatalf("Normalize(%q) = %q, %v; not a fixed point", got, again, err)
			}
		})
	}
	// Equivalent spellings get one key.
	a, _ := full.Normalize("HTTP://Example.com:80/a/./b/../%7Ec#x")
	b, _ := full.Normalize("http://example.com/a/~c")
	if KeyOf(a) != KeyOf(b) {
		t.Fatalf("%q and %q have different keys", a, b)
	}
}

func TestParseCanonicalization(t *testing.T) {
	c, err := ParseCanonicalization(CanonicalizationSteps())
	if err != nil || c != FullCanonicalization() {
		t.Fatalf("all steps: %+v, %v", c, err)
	}
	if c, err := ParseCanonicalization(nil); err != nil || c != (Canonicalization{}) {
		t.Fatalf("no steps: %+v, %v", c, err)
	}
	if _, err := ParseCanonicalization([]string{"remove_fragment", "lowercase_everything"}); err == nil {
		t.Fatal("an unknown step was accepted")
	}
}

// TestNormalizeHasNoLengthBound: max_url_length is the only bound on a
// URL's length (the callers check it on the canonical form); Normalize
// once refused anything over a fixed 2,048 bytes, so a larger setting had
// no effect.
func TestNormalizeHasNoLengthBound(t *testing.T) {
	long := "http://example.com/" + strings.Repeat("a", 5000)
	if got, err := Normalize(long); err != nil || got != long {
		t.Fatalf("Normalize of a %d-byte URL: %v", len(long), err)
	}
}

func TestNormalizeSaysWhenTheSchemeIsMissing(t *testing.T) {
	for _, raw := range []string{"example.com/a", "www.example.org", "localhost:8080/x", "127.0.0.1:8080/"} {
		_, err := Normalize(raw)
		if !errors.Is(err, ErrNoScheme) || !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), "http://"+raw) {
			t.Errorf("Normalize(%q): %v, want ErrNoScheme suggesting http://%s", raw, err, raw)
		}
	}
	for _, raw := range []string{"mailto:a@b", "/relative", "not a url"} {
		if _, err := Normalize(raw); errors.Is(err, ErrNoScheme) {
			t.Errorf("Normalize(%q): %v; not a URL missing its scheme", raw, err)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, bad := range []string{"", "not a url", "ftp://example.com/", "mailto:a@b", "http:///path", "http://%zz/", "/relative", "http://x/\x00"} {
		if _, err := Normalize(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("Normalize(%q): err = %v, want ErrBadURL", bad, err)
		}
	}
}

// TestPlainlyCanonicalTakesTheCommonForms: the shortcut must fire on the
// links a crawl sees most (else the master parses every link again), and
// leave to the parser each form it cannot vouch for.
func TestPlainlyCanonicalTakesTheCommonForms(t *testing.T) {
	full := FullCanonicalization()
	for _, tc := range []struct {
		url  string
		c    Canonicalization
		want bool
	}{
		{"http://example.com/", full, true},
		{"https://www.example.org/p/17.html", full, true},
		{"http://127.0.1.3:8080/a/b-c_d~e.html?x=1&y=a%20b", full, true},
		{"https://h/wiki/Caf%C3%A9", full, true},
		{"https://h/a/b/", full, true},
		{"http://h/a/./b", Canonicalization{}, true},
		{"http://h/a/./b", full, false},
		{"http://h/a/..", full, false},
		{"http://h/a?b/../c", full, true}, // dots in a query are not segments
		{"http://h/%7euser", full, false},
		{"http://h/%c3%a9", full, false},
		{"http://h/%C3%A9", Canonicalization{}, false},
		{"http://h", full, false},
		{"http://h/?", full, false},
		{"http://H/", full, false},
		{"HTTP://h/", full, false},
		{"http://h:80/", full, false},
		{"https://h:443/", full, false},
		{"http://h:443/", full, true},
		{"http://u:p@h/", full, false},
		{"http://[::1]/", full, false},
		{"http://h/a#top", full, false},
		{"http://h/a b", full, false},
		{" http://h/", full, false},
	} {
		if got := tc.c.PlainlyCanonical(tc.url); got != tc.want {
			t.Errorf("PlainlyCanonical(%q) under %+v = %v, want %v", tc.url, tc.c, got, tc.want)
		}
		if u, err := tc.c.normalize(tc.url); tc.want && (err != nil || u != tc.url) {
			t.Errorf("%q taken as canonical, but normalize gives %q, %v", tc.url, u, err)
		}
	}
}
