// ports.go: free loopback endpoints for tests.

package testsite

import (
	"net"
	"sync"
	"testing"
)

// FreeEndpoints returns n tcp://127.0.0.1:port endpoints whose ports were
// free a moment ago. Each test takes a fresh set: zmq cannot always rebind
// a port right after it was closed. No port is handed out twice in one
// test binary: the kernel may give a port just closed to the next
// listener on :0, and two clusters picked before either binds (a shared
// crawl's masters) then got the same port, and the second master failed
// with "address already in use".
func FreeEndpoints(tb testing.TB, n int) []string {
	tb.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			tb.Fatalf("found %d of %d loopback ports not handed out before", len(out), n)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln) // held until the end, so the next Listen gets another port
		port := ln.Addr().(*net.TCPAddr).Port
		if handedOut.ports[port] {
			continue
		}
		handedOut.ports[port] = true
		out = append(out, "tcp://"+ln.Addr().String())
	}
	return out
}

// handedOut are the ports FreeEndpoints has returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}
