package cli

import (
	"runtime/debug"
	"testing"
)

// TestWorkerGC: a worker process collects at workerGCPercent unless the
// environment sets GOGC, which the runtime has applied already.
func TestWorkerGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name    string
		environ []string
		want    int
	}{
		{"unset", []string{"HOME=/root", "GOGCX=1"}, workerGCPercent},
		{"set by the user", []string{"GOGC=50"}, 100},
		{"set off", []string{"PATH=/bin", "GOGC=off"}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			setWorkerGC(tc.environ)
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}
