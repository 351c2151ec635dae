// fuzz_test.go: fuzzing the robots.txt parser.

package robots

import (
	"testing"

	"github.com/spyder-crawl/spyder/internal/fuzzmem"
)

// FuzzParse: any robots.txt parses; the group chosen for a crawler
// answers for any path, and its encoding decodes to a group that answers
// the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(rfcExample), "/example/page.html")
	f.Add([]byte("User-agent: *\nDisallow: /*?\nAllow: /a$\nCrawl-delay: 2.5\n"), "/a?b")
	f.Add([]byte("User-agent: spyder\nDisallow: /***$$\n"), "/")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		var r *Robots
		fuzzmem.Check(t, len(body), 256, 256<<10, func() { r = Parse(body) })
		for _, agent := range []string{"spyder", "foobot", "*"} {
			g := r.For(agent)
			allowed := g.Allowed(path)
			b, err := g.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back Group
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatalf("our own encoding: %v", err)
			}
			if back.Allowed(path) != allowed {
				t.Fatalf("%s %q: decoded group says %v", agent, path, !allowed)
			}
		}
	})
}
