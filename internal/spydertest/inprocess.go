// inprocess.go: a master or a worker started in the test's own process, on
// real loopback sockets (as nsq's tests start nsqd), with the same log API
// as a process of the binary.

package spydertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/worker"
)

// Running is a master or worker running in the test's process, with its
// log; it is stopped (its context cancelled, as a signal would) when the
// test ends.
type Running struct {
	*Log
	err error
}

// Wait waits up to timeout for Run to return, and returns its error.
func (r *Running) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-r.Done():
		return r.err
	case <-time.After(timeout):
		t.Fatalf("%s did not return within %v", r.Name(), timeout)
		return nil
	}
}

// MasterOptions are what a master run by `spyder master` gets from flags.
type MasterOptions struct {
	UntilDone, Paused bool
}

// StartMaster runs a master in the test's process with s (Cluster.Settings)
// until the test ends, or the end of the crawl with UntilDone.
func StartMaster(t testing.TB, name string, s *settings.Settings, o MasterOptions) *Running {
	t.Helper()
	r := &Running{Log: newLog(name)}
	m, err := master.New(master.Options{Settings: s, Identity: identity(crawluri.RoleMaster, name), Logger: logger(r.Log, "master"),
		UntilDone: o.UntilDone, Paused: o.Paused})
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	r.start(t, m.Run)
	return r
}

// StartWorker runs a worker in the test's process with s until its master
// tells it to quit, or the test ends.
func StartWorker(t testing.TB, name string, s *settings.Settings) *Running {
	t.Helper()
	r := &Running{Log: newLog(name)}
	w, err := worker.New(worker.Options{Settings: s, Identity: identity(crawluri.RoleWorker, name), Logger: logger(r.Log, "worker")})
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	r.start(t, w.Run)
	return r
}

func (r *Running) start(t testing.TB, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		r.err = run(ctx)
		r.ended()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.Done():
		case <-time.After(30 * time.Second):
			t.Errorf("%s still running 30 s after the test ended", r.Name())
		}
		if t.Failed() {
			t.Logf("---- %s log ----\n%s", r.Name(), r.Text())
		}
	})
}

// identity is a bus identity unique in the test's process: the name in
// place of the pid that tells processes apart.
func identity(role, name string) string {
	return fmt.Sprintf("%s:spydertest:%s", role, name)
}

// logger writes JSON records, as a process of the binary logs off a
// terminal.
func logger(l *Log, role string) zerolog.Logger {
	return zerolog.New(l).With().Timestamp().Str("role", role).Logger().Level(zerolog.InfoLevel)
}
