// check_test.go: the master's settings checks.

package master

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/settings"
)

// TestCheckSettings: what only the registries and the file system know is
// refused by New with the setting's name, the problem and the fix, as a
// settings error (exit 2).
func TestCheckSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags map[string]any
		want  []string
	}{
		{"unknown sink", map[string]any{"master_sinks": []string{"jsonl", "parquet"}}, []string{"master_sinks", `"parquet" is not registered`, "csv", "jsonl", "warc"}},
		{"unknown callback", map[string]any{"master_callback": "seedz"}, []string{"master_callback", `"seedz"`, "seedfile"}},
		{"unknown frontier", map[string]any{"frontier_class": "redis"}, []string{"frontier_class", "multiple_host"}},
		{"state_dir is a file", map[string]any{"state_dir": file}, []string{"state_dir", "is a file, not a directory"}},
		{"seeds file missing", map[string]any{"master_callback": "seedfile", "seeds_file": filepath.Join(dir, "none.txt")}, []string{"seeds_file", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Settings: testSettings(t, tc.flags)})
			if !errors.Is(err, settings.ErrInvalid) {
				t.Fatalf("New: %v, want a settings error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}
