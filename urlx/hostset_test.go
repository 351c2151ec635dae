package urlx

import (
	"fmt"
	"testing"
)

// TestHostSet: every name added is found, across the table's growths and
// a reserve, and names never added (some sharing a prefix, a suffix or a
// probe chain with those added) are not.
func TestHostSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reserve int
		n       int
	}{
		{"empty", 0, 0},
		{"one", 0, 1},
		{"grown", 0, 5000},
		{"reserved", 5000, 5000},
		{"reserved too few", 100, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s hostSet
			if s.has("") || s.has("a.example") {
				t.Fatal("an empty set has names")
			}
			s.reserve(tc.reserve)
			for i := range tc.n {
				s.add(fmt.Sprintf("host%d.example", i))
				s.add(fmt.Sprintf("host%d.example", i/2)) // added again: no-op
			}
			if s.len() != tc.n {
				t.Fatalf("len %d, want %d", s.len(), tc.n)
			}
			for i := range tc.n {
				if h := fmt.Sprintf("host%d.example", i); !s.has(h) {
					t.Fatalf("%s added but not found", h)
				}
			}
			for i := range tc.n + 1000 {
				for _, h := range []string{fmt.Sprintf("host%d.example", tc.n+i), fmt.Sprintf("host%d.example.org", i), fmt.Sprintf("xhost%d.example", i)} {
					if s.has(h) {
						t.Fatalf("%s found, never added", h)
					}
				}
			}
			if used := 2 * s.len(); len(s.slots) < used {
				t.Fatalf("table of %d slots for %d names: more than half full", len(s.slots), s.len())
			}
		})
	}
}
