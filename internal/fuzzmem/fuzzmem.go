// Package fuzzmem bounds what a fuzz target's code allocates for one input,
// so that a length field or a nesting that makes a decoder allocate far
// beyond its input (a memory bomb from a stranger) is a finding, not an
// out-of-memory kill.
package fuzzmem

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// every is how often an input is measured: reading the memory statistics
// stops the world, and most inputs are alike.
const every = 16

var calls atomic.Int64

// Check runs fn, and on every 16th call fails t when fn allocated more
// than perByte bytes for each of the input's n bytes plus base.
func Check(t testing.TB, n int, perByte, base uint64, fn func()) {
	t.Helper()
	if calls.Add(1)%every != 0 {
		fn()
		return
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	limit := perByte*uint64(n) + base
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Fatalf("%d bytes of input allocated %d bytes, more than the bound %d", n, got, limit)
	}
}
