// fuzz_test.go: fuzzing the management message parser.

package mgmt

import (
	"bytes"
	"testing"

	"github.com/spyder-crawl/spyder/internal/fuzzmem"
)

// FuzzParse: any three frames either parse or are refused with an error;
// what parses re-encodes to frames that parse to the same message, and its
// body decodes (or fails) without a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("spyder.worker."), []byte("worker:h:1"), []byte(`be here now {"proto":1,"max_clients":10,"leases":[1,2]}`))
	f.Add([]byte("spyder.ctl."), []byte("ctl:h:2"), []byte(`add {"id":"x","urls":["http://a/"]}`))
	f.Add([]byte("spyder.master."), []byte("master:h:3"), []byte("heartbeat"))
	f.Add([]byte("spyder.x"), []byte("bad id!"), []byte(""))
	f.Fuzz(func(t *testing.T, topic, identity, data []byte) {
		var m Message
		var err error
		fuzzmem.Check(t, len(topic)+len(identity)+len(data), 64, 64<<10, func() {
			if m, err = Parse([][]byte{topic, identity, data}); err == nil {
				var a Announce
				_ = m.Decode(&a)
				var r Request
				_ = m.Decode(&r)
			}
		})
		if err != nil {
			return
		}
		again, err := Parse(m.Frames())
		if err != nil {
			t.Fatalf("our own frames do not parse: %v", err)
		}
		if again.Topic != m.Topic || again.Identity != m.Identity || again.Verb != m.Verb || !bytes.Equal(again.Body, m.Body) {
			t.Fatalf("round trip: %+v -> %+v", m, again)
		}
		var a Announce
		_ = m.Decode(&a)
		var r Request
		_ = m.Decode(&r)
	})
}
