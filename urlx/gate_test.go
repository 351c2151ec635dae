// gate_test.go: the admission gate's reasons.

package urlx

import (
	"strings"
	"testing"
)

// TestGate: one reason per refusal, for seeds and links alike; a seed's
// host joins a host-based scope.
func TestGate(t *testing.T) {
	scope, err := NewScope(nil, []string{`\.pdf$`})
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Canon: FullCanonicalization(), MaxLen: 40, Scope: scope, DenyExtensions: ExtensionSet([]string{"ZIP", ".jpg"})}
	if u, err := g.Seed("HTTP://Example.com:80/a/../b#x"); err != nil || u != "http://example.com/b" {
		t.Fatalf("seed: %q, %v", u, err)
	}
	for _, tc := range []struct {
		raw, want, reason string
	}{
		{"http://example.com/c", "http://example.com/c", ""},
		{"http://other.example/", "", ReasonOutOfScope},
		{"http://example.com/doc.pdf", "", ReasonOutOfScope},
		{"http://example.com/" + strings.Repeat("a", 40), "", ReasonTooLong},
		{"mailto:a@b", "", ReasonInvalid},
		{"http://example.com/a.Zip", "", ReasonDenied},
		{"http://example.com/i.jpg?s=2", "", ReasonDenied},
		{"http://example.com/zip", "http://example.com/zip", ""},
		{"http://example.com/a.jpg/", "http://example.com/a.jpg/", ""},
		{"http://example.com/x?f=a.zip", "http://example.com/x?f=a.zip", ""},
		{"example.com/x", "", ReasonInvalid},
	} {
		u, err := g.Link(tc.raw)
		if reason := Reason(err); err != nil && reason == ReasonOutOfScope && u == "" {
			t.Errorf("Link(%q): out of scope without its canonical form", tc.raw)
		}
		if got := ""; err != nil {
			got = Reason(err)
			if got != tc.reason {
				t.Errorf("Link(%q): %v (%s), want %s", tc.raw, err, got, tc.reason)
			}
		} else if tc.reason != "" || u != tc.want {
			// (admitted)
			t.Errorf("Link(%q) = %q, want %q refused for %s", tc.raw, u, tc.want, tc.reason)
		}
	}
}

func TestExtension(t *testing.T) {
	for u, want := range map[string]string{
		"http://h/a.PDF": "pdf", "http://h/a.tar.gz": "gz", "http://h/": "", "http://h.example.com": "",
		"http://h/dir.d/file": "", "http://h/f.js#x.png": "js", "http://h/f?x=1.png": "",
	} {
		if got := extension(u); got != want {
			t.Errorf("extension(%q) = %q, want %q", u, got, want)
		}
	}
}
