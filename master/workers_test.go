// workers_test.go: the worker registry's life cycle.

package master

import (
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/mgmt"
)

func TestRegistryLifecycle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newWorkerRegistry(3 * time.Second)
	if w, activated := r.Seen("worker:a:1", t0, mgmt.Announce{MaxClients: 4}); !activated || w.MaxClients != 4 {
		t.Fatal("first announcement must activate")
	}
	if _, activated := r.Seen("worker:a:1", t0.Add(time.Second), mgmt.Announce{}); activated {
		t.Fatal("a repeated announcement must not add capacity")
	}
	r.Seen("worker:b:2", t0.Add(time.Second), mgmt.Announce{})
	if r.Live() != 2 {
		t.Fatalf("live = %d", r.Live())
	}
	if next := r.NextExpiry(); !next.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("next expiry %v", next)
	}
	// b stays silent, a heartbeats: only b is lost.
	r.Seen("worker:a:1", t0.Add(4*time.Second), mgmt.Announce{})
	lost := r.Expire(t0.Add(4500 * time.Millisecond))
	if len(lost) != 1 || lost[0].ID != "worker:b:2" || r.Live() != 1 {
		t.Fatalf("lost %v, live %d", lost, r.Live())
	}
	// A lost worker that speaks again is active again.
	if _, activated := r.Seen("worker:b:2", t0.Add(5*time.Second), mgmt.Announce{}); !activated || r.Live() != 2 {
		t.Fatal("a lost worker coming back must be active")
	}
	// quit.ack is terminal.
	if !r.QuitAck("worker:a:1", t0.Add(6*time.Second)) || r.Live() != 1 {
		t.Fatal("quit.ack of an active worker")
	}
	if _, activated := r.Seen("worker:a:1", t0.Add(7*time.Second), mgmt.Announce{}); activated || r.Live() != 1 {
		t.Fatal("a gone worker must stay gone")
	}
	if r.QuitAck("worker:zz:9", t0) {
		t.Fatal("quit.ack of an unknown worker reports inactive")
	}
	ws := r.Workers()
	if len(ws) != 3 || ws[0].ID != "worker:a:1" || ws[0].State != workerGone {
		t.Fatalf("workers %+v", ws)
	}
}
