// fuzz_test.go: fuzzing the URL normaliser.

package urlx

import (
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
