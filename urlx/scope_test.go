// scope_test.go: scope: seed hosts, positive and negative expressions.

package urlx

import "testing"

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
