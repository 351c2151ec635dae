// mgmt_test.go: management messages: round trips and rejects.

package mgmt

import (
	"errors"
	"testing"
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
