// scope_test.go: scope: seed hosts, positive and negative expressions.

package urlx

import (
	"fmt"
	"slices"
	"testing"
)

// TestScope ports spyder's test_regex_scoper vector and checks the default
// scope (the seeds' hosts).
func TestScope(t *testing.T) {
	s, err := NewScope([]string{`^.*\.html`}, []string{`^.*\.avi`})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Allows("http://www.google.de/index.html") || s.Allows("ftp://www.google.de/pillepalle.avi") {
		t.Fatal("spyder's RegexScoper vector")
	}
	if !s.Allows("HTTP://WWW.GOOGLE.DE/INDEX.HTML") {
		t.Fatal("matching is case-insensitive")
	}
	hosts, _ := NewScope(nil, []string{`^https?://a\.example/private/`})
	hosts.AddSeed("http://a.example/")
	hosts.AddSeed("https://b.example:8443/start")
	for u, want := range map[string]bool{
		"http://a.example/x":         true,
		"https://a.example/y":        true,
		"http://b.example/z":         true,
		"http://c.example/":          false,
		"http://a.example.evil/":     false,
		"http://a.example/private/x": false,
	} {
		if hosts.Allows(u) != want {
			t.Errorf("Allows(%q) != %v", u, want)
		}
	}
	if _, err := NewScope([]string{"("}, nil); err == nil {
		t.Fatal("bad regex accepted")
	}
}

// TestScopeAnchoring: positive patterns match at the start of the URL,
// negative ones anywhere in it (regex_scope_negative: ['\.pdf$'] once
// excluded nothing, anchored at the start like the positive ones).
func TestScopeAnchoring(t *testing.T) {
	s, err := NewScope([]string{`https?://docs\.example/`}, []string{`\.pdf$`, `/login`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"http://docs.example/guide.html", true},
		{"https://docs.example/a/b", true},
		{"http://docs.example/manual.pdf", false},
		{"http://docs.example/MANUAL.PDF", false},
		{"http://docs.example/manual.pdf.html", true},
		{"http://docs.example/login?next=/", false},
		{"http://other.example/?u=http://docs.example/", false}, // positive: at the start only
	} {
		if got := s.Allows(tc.url); got != tc.want {
			t.Errorf("Allows(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

// TestFirstSeedHosts: a log line shows the first hosts of a scope in sorted
// order, however many it holds, and the count of all of them.
func TestFirstSeedHosts(t *testing.T) {
	s, _ := NewScope(nil, nil)
	var hosts []string
	for i := 999; i >= 0; i-- {
		hosts = append(hosts, fmt.Sprintf("h%03d.example", i))
	}
	s.AddHosts(hosts)
	s.AddHost("h000.example") // already there
	if n := s.SeedHostCount(); n != 1000 {
		t.Fatalf("SeedHostCount = %d, want 1000", n)
	}
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{0, []string{}},
		{1, []string{"h000.example"}},
		{3, []string{"h000.example", "h001.example", "h002.example"}},
	} {
		if got := s.FirstSeedHosts(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("FirstSeedHosts(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	if got := s.FirstSeedHosts(5000); len(got) != 1000 || !slices.IsSorted(got) {
		t.Errorf("FirstSeedHosts(5000): %d hosts, sorted %v; want all 1000 sorted", len(got), slices.IsSorted(got))
	}
}
