// ports.go: free loopback endpoints for tests.

package testsite

import (
	"net"
	"testing"
)

// FreeEndpoints returns n tcp://127.0.0.1:port endpoints whose ports were
// free a moment ago. Each test takes a fresh set: zmq cannot always rebind
// a port right after it was closed.
func FreeEndpoints(tb testing.TB, n int) []string {
	tb.Helper()
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, "tcp://"+ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}
