package mgmt

import (
	"errors"
	"testing"
	"time"
)

func TestParseRoundTrip(t *testing.T) {
	m := New(TopicWorker, "worker:h:1", VerbAvail, Announce{Protocol: 1, MaxClients: 10, InFlight: 2, Done: 5})
	got, err := Parse(m.Frames())
	if err != nil {
		t.Fatal(err)
	}
	if got.Verb != VerbAvail || got.Identity != "worker:h:1" || got.Topic != TopicWorker {
		t.Fatalf("got %+v", got)
	}
	var a Announce
	if err := got.Decode(&a); err != nil || a.MaxClients != 10 || a.Done != 5 {
		t.Fatalf("decode: %v %+v", err, a)
	}
	// spyder's bare frames parse too.
	bare, err := Parse([][]byte{[]byte("spyder.worker."), []byte("worker:h:2"), []byte("be here now")})
	if err != nil || bare.Verb != VerbAvail || bare.Body != nil {
		t.Fatalf("bare: %v %+v", err, bare)
	}
	if err := bare.Decode(&a); err != nil {
		t.Fatalf("absent body must decode to nothing: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string][][]byte{
		"two frames":     {[]byte("spyder.worker."), []byte("worker:h:1")},
		"four frames":    {[]byte("spyder.worker."), []byte("worker:h:1"), []byte("x"), []byte("y")},
		"foreign topic":  {[]byte("other."), []byte("worker:h:1"), []byte("heartbeat")},
		"empty identity": {[]byte("spyder.worker."), nil, []byte("quit.ack")},
		"bad identity":   {[]byte("spyder.worker."), []byte("a b"), []byte("quit.ack")},
		"empty data":     {[]byte("spyder.worker."), []byte("worker:h:1"), nil},
		"broken body":    {[]byte("spyder.worker."), []byte("worker:h:1"), []byte("heartbeat {oops")},
	}
	for name, frames := range cases {
		if _, err := Parse(frames); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	m, _ := Parse([][]byte{[]byte("spyder.worker."), []byte("worker:h:1"), []byte(`heartbeat {"inflight":"many"}`)})
	var a Announce
	if err := m.Decode(&a); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong body type: err = %v", err)
	}
}

func TestRegistryLifecycle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := NewRegistry(3 * time.Second)
	if w, activated := r.Seen("worker:a:1", t0, Announce{MaxClients: 4}); !activated || w.MaxClients != 4 {
		t.Fatal("first announcement must activate")
	}
	if _, activated := r.Seen("worker:a:1", t0.Add(time.Second), Announce{}); activated {
		t.Fatal("a repeated announcement must not add capacity")
	}
	r.Seen("worker:b:2", t0.Add(time.Second), Announce{})
	if r.Live() != 2 {
		t.Fatalf("live = %d", r.Live())
	}
	if next := r.NextExpiry(); !next.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("next expiry %v", next)
	}
	// b stays silent, a heartbeats: only b is lost.
	r.Seen("worker:a:1", t0.Add(4*time.Second), Announce{})
	lost := r.Expire(t0.Add(4500 * time.Millisecond))
	if len(lost) != 1 || lost[0].ID != "worker:b:2" || r.Live() != 1 {
		t.Fatalf("lost %v, live %d", lost, r.Live())
	}
	// A lost worker that speaks again is active again.
	if _, activated := r.Seen("worker:b:2", t0.Add(5*time.Second), Announce{}); !activated || r.Live() != 2 {
		t.Fatal("a lost worker coming back must be active")
	}
	// quit.ack is terminal.
	if !r.QuitAck("worker:a:1", t0.Add(6*time.Second)) || r.Live() != 1 {
		t.Fatal("quit.ack of an active worker")
	}
	if _, activated := r.Seen("worker:a:1", t0.Add(7*time.Second), Announce{}); activated || r.Live() != 1 {
		t.Fatal("a gone worker must stay gone")
	}
	if r.QuitAck("worker:zz:9", t0) {
		t.Fatal("quit.ack of an unknown worker reports inactive")
	}
	ws := r.Workers()
	if len(ws) != 3 || ws[0].ID != "worker:a:1" || ws[0].State != Gone {
		t.Fatalf("workers %+v", ws)
	}
}
