// robots_test.go: robots.txt parsing and matching (RFC 9309's examples).

package robots

import (
	"strings"
	"testing"
	"time"
)

// rfcExample is RFC 9309 section 5.1.
const rfcExample = `User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
`

func TestRFC9309Examples(t *testing.T) {
	r := Parse([]byte(rfcExample))
	for _, tc := range []struct {
		agent, path string
		want        bool
	}{
		// 5.1: foobot may fetch page.html and allowed.gif, nothing else.
		{"foobot", "/example/page.html", true},
		{"foobot", "/example/allowed.gif", true},
		{"foobot", "/example/other.html", false},
		{"foobot", "/", false},
		{"FooBot", "/publications/", false}, // tokens are case-insensitive; "*" does not apply
		// barbot and bazbot: everything but /example/page.html.
		{"barbot", "/example/page.html", false},
		{"barbot", "/example/other.html", true},
		{"bazbot", "/example/page.html", false},
		{"bazbot", "/x.gif", true},
		// quxbot has an empty group: everything.
		{"quxbot", "/example/page.html", true},
		{"quxbot", "/a.gif", true},
		// Any other crawler: the "*" group.
		{"spyder", "/a.gif", false},
		{"spyder", "/a.gif?x=1", true}, // "$" anchors at the end
		{"spyder", "/example/", false},
		{"spyder", "/example/deep/page", false},
		{"spyder", "/publications/", true},
		{"spyder", "/", true},
		{"spyder", "/robots.txt", true},
		// A token is matched whole, not as a prefix.
		{"foo", "/example/other.html", false},
		{"foobotx", "/example/", false},
		{"foobotx", "/publications/", true},
	} {
		if got := r.For(tc.agent).Allowed(tc.path); got != tc.want {
			t.Errorf("%s %s: allowed %v, want %v", tc.agent, tc.path, got, tc.want)
		}
	}

	// 5.2: the longest match wins.
	r = Parse([]byte("User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"))
	if !r.For("foobot").Allowed("/example/page/") || r.For("foobot").Allowed("/example/page/disallowed.gif") {
		t.Error("5.2: the most specific rule must decide")
	}
}

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name, file, path string
		want             bool
	}{
		{"allow wins a tie", "User-agent: *\nDisallow: /page\nAllow: /page\n", "/page", true},
		{"allow wins a tie, either order", "User-agent: *\nAllow: /page\nDisallow: /page\n", "/page", true},
		{"longer disallow wins", "User-agent: *\nAllow: /p\nDisallow: /page\n", "/page/x", false},
		{"empty disallow allows", "User-agent: *\nDisallow:\n", "/anything", true},
		{"disallow all", "User-agent: *\nDisallow: /\n", "/anything", false},
		{"wildcard in the middle", "User-agent: *\nDisallow: /*/private/\n", "/a/b/private/x", false},
		{"wildcard no match", "User-agent: *\nDisallow: /*/private/\n", "/private/x", true},
		{"anchored exact", "User-agent: *\nDisallow: /exact$\n", "/exact", false},
		{"anchored not a prefix", "User-agent: *\nDisallow: /exact$\n", "/exact/more", true},
		{"query matched", "User-agent: *\nDisallow: /*?session=\n", "/page?session=1", false},
		{"comments and case of keys", "# hi\nUSER-AGENT: * # all\nDISALLOW: /secret # no\n", "/secret/x", false},
		{"CRLF line ends", "User-agent: *\r\nDisallow: /secret\r\n", "/secret", false},
		{"groups for one agent combine", "User-agent: spyder\nDisallow: /a\n\nUser-agent: spyder\nDisallow: /b\n", "/b", false},
		{"rules before any group are ignored", "Disallow: /\nUser-agent: *\nDisallow: /x\n", "/y", true},
		{"garbage lines skipped", "<html>\nUser-agent: *\nnonsense\nDisallow: /x\n", "/x", false},
	} {
		if got := Parse([]byte(tc.file)).For("spyder").Allowed(tc.path); got != tc.want {
			t.Errorf("%s: %s allowed %v, want %v", tc.name, tc.path, got, tc.want)
		}
	}
}

func TestStatusesAndCrawlDelay(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   bool
	}{{200, false}, {404, true}, {403, true}, {429, false}, {500, false}, {503, false}, {599, false}, {0, false}} {
		r := FromResponse(tc.status, []byte("User-agent: *\nDisallow: /x\n"))
		if got := r.For("spyder").Allowed("/x"); got != tc.want {
			t.Errorf("status %d: /x allowed %v, want %v", tc.status, got, tc.want)
		}
		if !r.For("spyder").Allowed("/robots.txt") {
			t.Errorf("status %d: /robots.txt itself must stay allowed", tc.status)
		}
	}
	r := Parse([]byte("User-agent: *\nCrawl-delay: 2.5\n\nUser-agent: slurp\nCrawl-delay: 18\n\nUser-agent: other\nCrawl-delay: soon\n"))
	if d, ok := r.For("spyder").CrawlDelay(); !ok || d != 2500*time.Millisecond {
		t.Errorf("crawl delay %v %v", d, ok)
	}
	if d, ok := r.For("Slurp").CrawlDelay(); !ok || d != 18*time.Second {
		t.Errorf("slurp crawl delay %v %v", d, ok)
	}
	if _, ok := r.For("other").CrawlDelay(); ok {
		t.Error("an unreadable crawl delay was taken")
	}
	// Bodies beyond MaxSize are cut, not fatal.
	big := "User-agent: *\nDisallow: /x\n" + strings.Repeat("# filler\n", MaxSize/9+10) + "Disallow: /late\n"
	if g := Parse([]byte(big)).For("spyder"); g.Allowed("/x") || !g.Allowed("/late") {
		t.Error("size limit")
	}
}

func TestGroupEncoding(t *testing.T) {
	for _, r := range []*Robots{
		Parse([]byte(rfcExample)),
		Parse([]byte("User-agent: *\nCrawl-delay: 2.5\nDisallow: /x\nAllow: /x/y$\n")),
		Parse(nil), AllowAll(), DisallowAll(),
	} {
		for _, agent := range []string{"foobot", "barbot", "spyder"} {
			g := r.For(agent)
			b, err := g.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back Group
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatalf("%s: %v", agent, err)
			}
			for _, p := range []string{"/", "/x", "/x/y", "/x/yz", "/example/page.html", "/example/allowed.gif", "/a.gif", "/publications/"} {
				if back.Allowed(p) != g.Allowed(p) {
					t.Errorf("%s %s: decoded group says %v", agent, p, back.Allowed(p))
				}
			}
			d1, ok1 := g.CrawlDelay()
			d2, ok2 := back.CrawlDelay()
			if d1 != d2 || ok1 != ok2 {
				t.Errorf("%s: crawl delay %v %v, decoded %v %v", agent, d1, ok1, d2, ok2)
			}
			// Every truncation is an error, not a panic or a wrong group.
			for i := range b {
				if err := new(Group).UnmarshalBinary(b[:i]); err == nil {
					t.Errorf("%s: %d of %d bytes decoded", agent, i, len(b))
				}
			}
		}
	}
}
