// curve_test.go: CURVE keys, the allowed list and the ZAP handler.

package curve

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/rs/zerolog"
)

func newPair(t *testing.T) Pair {
	t.Helper()
	p, err := NewPair()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeyFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := newPair(t)
	base := filepath.Join(dir, "w1")
	if err := p.Files(base, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Files(base, "w1"); !errors.Is(err, ErrKey) {
		t.Fatalf("second keygen over the same name: %v, want a refusal", err)
	}
	info, err := os.Stat(base + "_secret")
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	pub, err := PublicKey("k", base)
	if err != nil || pub != p.Public {
		t.Fatalf("public key from the public file: %q %v, want %q", pub, err, p.Public)
	}
	got, err := SecretKey("k", base+"_secret")
	if err != nil || got != p {
		t.Fatalf("pair from the secret file: %+v %v, want %+v", got, err, p)
	}
	// Inline keys, and a bare secret key alone in a 0600 file.
	if got, err := SecretKey("k", p.Secret); err != nil || got != p {
		t.Fatalf("inline secret: %+v %v", got, err)
	}
	bare := filepath.Join(dir, "bare")
	if err := os.WriteFile(bare, []byte(p.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := SecretKey("k", bare); err != nil || got != p {
		t.Fatalf("bare secret file: %+v %v", got, err)
	}

	for name, tc := range map[string]struct {
		value string
		mode  os.FileMode
		text  string
		want  string
	}{
		"readable by others": {mode: 0o644, text: p.Secret, want: "readable by others"},
		"public file only":   {mode: 0o600, text: "public-key = \"" + p.Public + "\"\n", want: "holds no secret-key"},
		"bad key":            {mode: 0o600, text: "secret-key = \"tooshort\"\n", want: "not a 40-character Z85 key"},
		"missing":            {value: filepath.Join(dir, "nope"), want: "neither a 40-character Z85 key nor a readable key file"},
	} {
		t.Run(name, func(t *testing.T) {
			path := tc.value
			if path == "" {
				path = filepath.Join(t.TempDir(), "key")
				if err := os.WriteFile(path, []byte(tc.text), tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := SecretKey("curve_secret_key", path)
			if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "curve_secret_key") {
				t.Fatalf("got %v, want an error naming the setting and %q", err, tc.want)
			}
			if strings.Contains(err.Error(), p.Secret) {
				t.Fatal("the error shows the secret key")
			}
		})
	}
}

func TestAllowListFormsAndReload(t *testing.T) {
	dir := t.TempDir()
	a, b, c := newPair(t), newPair(t), newPair(t)
	if err := b.Files(filepath.Join(dir, "b"), "b"); err != nil {
		t.Fatal(err)
	}
	certB, _ := os.ReadFile(filepath.Join(dir, "b"))
	path := filepath.Join(dir, "allowed")
	text := "# workers\n\n" + a.Public + " crawler-1\n" + string(certB)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	list, err := LoadAllowList(path, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{a.Public: "crawler-1", b.Public: ""} {
		if name, ok := list.Lookup(key); !ok || name != want {
			t.Errorf("key %s: %q %v, want %q allowed", key, name, ok, want)
		}
	}
	if _, ok := list.Lookup(c.Public); ok {
		t.Fatal("an unlisted key is allowed")
	}

	// Enrolled without a restart.
	time.Sleep(10 * time.Millisecond) // a new modification time
	if err := os.WriteFile(path, []byte(text+c.Public+" late\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, ok := list.Lookup(c.Public); !ok || name != "late" {
		t.Fatalf("appended key: %q %v", name, ok)
	}
	// A bad edit keeps the keys read before, and says so once.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(path, []byte(a.Public+"\nnot a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, ok := list.Lookup(c.Public); !ok {
			t.Fatal("a bad edit dropped the keys")
		}
	}
	if n := strings.Count(logs.String(), "keeping the keys read before"); n != 1 {
		t.Fatalf("bad edit logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), path+":2") {
		t.Fatalf("the error does not name the line:\n%s", logs.String())
	}

	for name, text := range map[string]string{
		"bad line":   a.Public + "\nnot a key\n",
		"secret key": "secret-key = \"" + a.Secret + "\"\n",
	} {
		bad := filepath.Join(t.TempDir(), "allowed")
		if err := os.WriteFile(bad, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAllowList(bad, zerolog.Nop()); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), bad+":") {
			t.Errorf("%s: %v, want an error naming the file and line", name, err)
		}
	}
}

func TestLoopback(t *testing.T) {
	for ep, want := range map[string]bool{
		"tcp://127.0.0.1:5550":   true,
		"tcp://127.0.0.2:5550":   true,
		"tcp://[::1]:5550":       true,
		"tcp://localhost:5550":   true,
		"ipc:///tmp/spyder.sock": true,
		"inproc://x":             true,
		"tcp://*:5550":           false,
		"tcp://0.0.0.0:5550":     false,
		"tcp://10.0.0.5:5550":    false,
		"tcp://eth0:5550":        false,
		"garbage":                false,
	} {
		if got := Loopback(ep); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", ep, got, want)
		}
	}
}

// syncBuffer is a log destination written by the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServerRefusesStrangers: through real tcp sockets in a context of
// their own (where pebbe's AuthStart would not guard them), an allowed key
// gets through; an unknown key, no key and a client of another server key
// get nothing through and are logged with their address; a key appended
// to the file is let in without a restart.
func TestServerRefusesStrangers(t *testing.T) {
	dir := t.TempDir()
	server, good, stranger, other := newPair(t), newPair(t), newPair(t), newPair(t)
	allowed := filepath.Join(dir, "allowed")
	if err := os.WriteFile(allowed, []byte(good.Public+" good\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := zerolog.New(&logs)
	list, err := LoadAllowList(allowed, log)
	if err != nil {
		t.Fatal(err)
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := StartServer(zctx, server, list, log)
	if err != nil {
		t.Fatal(err)
	}
	pull, _ := zctx.NewSocket(zmq.PULL)
	if err := srv.Secure(pull, "test_pull"); err != nil {
		t.Fatal(err)
	}
	if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	endpoint, _ := pull.GetLastEndpoint()

	cctx, _ := zmq.NewContext()
	client := func(serverKey string, own *Pair) *zmq.Socket {
		so, _ := cctx.NewSocket(zmq.PUSH)
		_ = so.SetLinger(0)
		if own != nil {
			if err := Client(so, serverKey, *own); err != nil {
				t.Fatal(err)
			}
		}
		if err := so.Connect(endpoint); err != nil {
			t.Fatal(err)
		}
		return so
	}
	strangers := map[string]*zmq.Socket{
		"unknown key":        client(server.Public, &stranger),
		"no key":             client("", nil),
		"another server key": client(other.Public, &good),
	}
	for name, so := range strangers {
		if _, err := so.Send(name, zmq.DONTWAIT); err != nil && !errors.Is(err, zmq.Errno(11)) {
			t.Fatal(err)
		}
	}
	friend := client(server.Public, &good)
	if _, err := friend.Send("friend", 0); err != nil {
		t.Fatal(err)
	}
	_ = pull.SetRcvtimeo(5 * time.Second)
	if msg, err := pull.Recv(0); err != nil || msg != "friend" {
		t.Fatalf("received %q, %v; want the allowed client's message", msg, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Refused() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = pull.SetRcvtimeo(300 * time.Millisecond)
	if msg, err := pull.Recv(0); err == nil {
		t.Fatalf("a stranger's message got through: %q", msg)
	}
	// Each refusal is logged: one refused by ZAP with the peer's address
	// and key; one that fails before ZAP is asked with the peer's address
	// when it could still be read (libzmq's stable monitor events carry no
	// peer; it comes from the accepted descriptor, which such a short
	// connection may already have closed).
	deadline = time.Now().Add(5 * time.Second)
	for _, want := range []string{`"peer":"127.0.0.1","reason":"unknown CURVE key","key":"` + stranger.Public + `"`, "without CURVE keys", "another server key"} {
		for !strings.Contains(logs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal logged with %s:\n%s", want, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Enroll the stranger: reconnecting (which libzmq may not do by itself
	// after a refusal, zeromq/libzmq#3519; spyder's workers do), it is let in.
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(allowed, []byte(good.Public+" good\n"+stranger.Public+" enrolled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = pull.SetRcvtimeo(100 * time.Millisecond)
	deadline = time.Now().Add(10 * time.Second)
	enrolled := strangers["unknown key"]
	_ = enrolled.Disconnect(endpoint)
	if err := enrolled.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	for {
		_, _ = enrolled.Send("enrolled", zmq.DONTWAIT)
		if msg, err := pull.Recv(0); err == nil {
			if msg != "enrolled" && msg != "unknown key" {
				t.Fatalf("after enrolment received %q", msg)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the enrolled client got nothing through in 10 s")
		}
	}
	for _, so := range strangers {
		so.Close()
	}
	friend.Close()
	cctx.Term()
	pull.Close()
	if err := zctx.Term(); err != nil {
		t.Fatalf("terminating the server's context (the ZAP handler and monitors must let go): %v", err)
	}
}
