// dnscache_test.go: the DNS cache: lookups, one query shared, static mappings.

package dnscache

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingResolver answers from a table and counts the queries; gate, when
// set, holds every answer until it is closed.
type countingResolver struct {
	addrs   map[string][]netip.Addr
	queries atomic.Int32
	gate    chan struct{}
}

func (r *countingResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	r.queries.Add(1)
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// TestLookup ports spyder's test_dns_cache (localhost resolves, a static
// mapping wins) and adds what spyder lacked: IPv4 preferred over IPv6, IP
// literals, failures cached too.
func TestLookup(t *testing.T) {
	static, err := ParseStatic([]string{"localhost:123=10.1.1.1:123", "Pinned.Example=192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	r := &countingResolver{addrs: map[string][]netip.Addr{
		"dual.example": addrs("2001:db8::1", "198.51.100.1"),
		"v6.example":   addrs("2001:db8::2"),
	}}
	c := New(Options{Static: static, Resolver: r})
	defer c.Close()
	for _, tc := range []struct {
		host, want string
		fail       bool
	}{
		{host: "localhost", want: "10.1.1.1"},
		{host: "pinned.example", want: "192.0.2.7"},
		{host: "dual.example", want: "198.51.100.1"},
		{host: "v6.example", want: "2001:db8::2"},
		{host: "127.0.0.9", want: "127.0.0.9"},
		{host: "[::1]", want: "::1"},
		{host: "nowhere.example", fail: true},
	} {
		for range 2 { // the second time from the cache
			ip, err := c.Lookup(context.Background(), tc.host)
			if tc.fail != (err != nil) || ip != tc.want {
				t.Errorf("%s: %q, %v; want %q (fail %v)", tc.host, ip, err, tc.want, tc.fail)
			}
		}
	}
	if n := r.queries.Load(); n != 3 {
		t.Errorf("%d DNS queries, want 3 (one per name not static or literal, failures cached)", n)
	}
}

func TestRealResolverLocalhost(t *testing.T) {
	c := New(Options{})
	defer c.Close()
	ip, err := c.Lookup(context.Background(), "localhost")
	if err != nil || !netip.MustParseAddr(ip).IsLoopback() {
		t.Fatalf("localhost: %q, %v", ip, err)
	}
}

// TestLookupAsyncSharesOneQuery: many requests for one host while it is
// being resolved make one query, and every one gets the answer.
func TestLookupAsyncSharesOneQuery(t *testing.T) {
	r := &countingResolver{addrs: map[string][]netip.Addr{"a.example": addrs("192.0.2.1")}, gate: make(chan struct{})}
	c := New(Options{Resolver: r, Workers: 4})
	defer c.Close()
	var wg sync.WaitGroup
	var got sync.Map
	for i := range 50 {
		wg.Add(1)
		c.LookupAsync("a.example", func(ip string, err error) {
			got.Store(i, ip)
			wg.Done()
		})
	}
	close(r.gate)
	wg.Wait()
	for i := range 50 {
		if v, _ := got.Load(i); v != "192.0.2.1" {
			t.Fatalf("request %d got %v", i, v)
		}
	}
	if n := r.queries.Load(); n != 1 {
		t.Fatalf("%d queries, want 1", n)
	}
	// Cached now: answered at once, on the caller's goroutine.
	answered := false
	c.LookupAsync("a.example", func(string, error) { answered = true })
	if !answered {
		t.Fatal("a cached answer was not given at once")
	}
}

// TestCloseAbortsLookups: Close does not wait for a slow DNS server.
func TestCloseAbortsLookups(t *testing.T) {
	r := &countingResolver{gate: make(chan struct{})}
	c := New(Options{Resolver: r, Timeout: time.Hour})
	c.LookupAsync("slow.example", func(string, error) {})
	for r.queries.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a lookup in progress")
	}
	called := make(chan error, 1)
	c.LookupAsync("other.example", func(_ string, err error) { called <- err })
	if err := <-called; err == nil {
		t.Fatal("a lookup after Close succeeded")
	}
}

func TestParseStaticErrors(t *testing.T) {
	for _, bad := range []string{"nohost", "host=", "=1.2.3.4", "host=not-an-ip"} {
		if _, err := ParseStatic([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
