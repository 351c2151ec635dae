package node

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeSpyder is a stand-in for the spyder binary: its master says it is
// ready and runs until TERM; its worker prints a last word and exits with
// $WORKER_EXIT at once, every time it is started.
const fakeSpyder = `#!/bin/sh
case "$1" in
master)
	trap 'exit 0' TERM
	echo '{"level":"info","event":"SPYDER:MASTER_READY"}' >&2
	while :; do sleep 0.05; done ;;
worker)
	echo "worker cannot start: exit $WORKER_EXIT" >&2
	exit "$WORKER_EXIT" ;;
esac
`

// TestSuperviseWorkerThatCannotStart: a worker that exits before it is
// ready is restarted with back-off until the restart limit, then the node
// stops the master and fails, naming the worker and its last words; one
// that refuses its settings (exit 2) is not restarted on the same
// settings.
func TestSuperviseWorkerThatCannotStart(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "spyder")
	if err := os.WriteFile(exe, []byte(fakeSpyder), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		exit, starts int
		want         error
		words        string
	}{
		{exit: 1, starts: 3, want: ErrFailed, words: "w1 failed 3 times in a row without becoming ready (restart limit 3)"},
		{exit: 2, starts: 1, want: ErrConfig, words: "w1 refused its settings (exit code 2)"},
	} {
		var log strings.Builder
		err := Supervise(make(chan os.Signal), Options{
			Exe: exe, Workers: 1, RestartLimit: 3, Grace: 10 * time.Second,
			Env:      append(os.Environ(), "WORKER_EXIT="+string(rune('0'+tc.exit))),
			Stderr:   io.Discard,
			ChildLog: io.Discard,
			Log:      zerolog.New(&log),
		})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.words) || !strings.Contains(err.Error(), "worker cannot start") {
			t.Errorf("worker exit %d: node error %v, want %v saying %q and the worker's last words", tc.exit, err, tc.want, tc.words)
		}
		if starts := strings.Count(log.String(), `"child":"w1","pid"`); starts != tc.starts {
			t.Errorf("worker exit %d: w1 started %d times, want %d", tc.exit, starts, tc.starts)
		}
		if !strings.Contains(log.String(), `"child":"master","exit_code":0,"message":"child stopped"`) {
			t.Errorf("worker exit %d: the master was not stopped cleanly:\n%s", tc.exit, log.String())
		}
	}
}
