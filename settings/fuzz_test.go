// fuzz_test.go: fuzzing the settings loader.

package settings

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spyder-crawl/spyder/internal/fuzzmem"
)

// FuzzLoad: any config file loads or is refused with an error, never a
// panic; what loads is valid.
func FuzzLoad(f *testing.F) {
	f.Add("max_clients: 3\nuser_agent: x\n")
	f.Add("regex_scope_positive: ['^http://a/', '(']\nfrontier_min_delay: 0.5s\n")
	f.Add("static_dns_mappings: [a=1.2.3.4]\nmetrics_listen: ':0'\n")
	f.Add("- just\n- a list\n")
	f.Add("request_timeout: {a: b}\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, config string) {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		// YAML's aliases can make a small file expand without end: the
		// loader's allocations stay in proportion to the file.
		var s *Settings
		var err error
		fuzzmem.Check(t, len(config), 4096, 16<<20, func() { s, err = Load(Source{ConfigFile: path}) })
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Load accepted an invalid configuration: %v", err)
		}
	})
}
