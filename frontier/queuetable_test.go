package frontier

import (
	"fmt"
	"testing"
)

// queueList is every queue of f, for the tests that look at them all.
func queueList(f *testFrontier) []*queueState {
	var out []*queueState
	f.queues.each(func(q *queueState) { out = append(out, q) })
	return out
}

// TestQueueTable: ids whose low bits collide, growth past many sizes,
// reserve, and misses beside present ids all find what was added and
// nothing else.
func TestQueueTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		reserve int
		id      func(i int) uint64
	}{
		{"spread ids", 5000, 0, func(i int) uint64 { return uint64(i) * 0x9e3779b97f4a7c15 }},
		{"one home slot", 300, 0, func(i int) uint64 { return uint64(i+1) << 40 }},
		{"dense ids, reserved", 5000, 5000, func(i int) uint64 { return uint64(i) }},
		{"reserved short", 3000, 100, func(i int) uint64 { return uint64(i) * 7919 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s slab[queueState]
			tbl := queueTable{at: s.at}
			if tc.reserve > 0 {
				tbl.reserve(tc.reserve)
			}
			for i := range tc.n {
				q, pos := s.alloc()
				q.id, q.name = tc.id(i), fmt.Sprint(i)
				tbl.add(pos)
				if tbl.len() != i+1 || tbl.len()*4 > len(tbl.slots)*3 {
					t.Fatalf("after %d adds: len %d in %d slots", i+1, tbl.len(), len(tbl.slots))
				}
			}
			for i := range tc.n {
				if q := tbl.get(tc.id(i)); q == nil || q.name != fmt.Sprint(i) {
					t.Fatalf("get(%#x) = %v, want queue %d", tc.id(i), q, i)
				}
			}
			for _, miss := range []uint64{tc.id(tc.n), tc.id(tc.n) + 1, 1 << 63, 0xffffffffffffffff} {
				if q := tbl.get(miss); q != nil {
					t.Errorf("get(%#x) = queue %s, want none", miss, q.name)
				}
			}
			seen := map[string]bool{}
			tbl.each(func(q *queueState) { seen[q.name] = true })
			if len(seen) != tc.n {
				t.Errorf("each visited %d queues, want %d", len(seen), tc.n)
			}
		})
	}
	var empty queueTable
	if empty.get(42) != nil || empty.len() != 0 {
		t.Error("an empty table finds something")
	}
}

// TestQueueTableProbes: the queue ids of host names that differ in a few
// characters (whose low bits barely differ: 3,800 probes a lookup when
// taken as slot numbers) still find their queue in a slot or two.
func TestQueueTableProbes(t *testing.T) {
	for _, pattern := range []string{"h%d.test", "host%d.example", "127.0.%d.1:8080"} {
		var s slab[queueState]
		tbl := queueTable{at: s.at}
		const n = 50000
		for i := range n {
			q, pos := s.alloc()
			q.id = queueID(fmt.Sprintf(pattern, i))
			tbl.add(pos)
		}
		probes, mask := 0, uint64(len(tbl.slots)-1)
		for i := range n {
			id := queueID(fmt.Sprintf(pattern, i))
			for j := tbl.home(id); ; j = (j + 1) & mask {
				probes++
				if s.at(tbl.slots[j]-1).id == id {
					break
				}
			}
		}
		if mean := float64(probes) / n; mean > 2 {
			t.Errorf("%s: %.1f slots probed per lookup", pattern, mean)
		}
	}
}

// TestNameArena: names packed across blocks keep their bytes, whatever is
// interned after them and whatever happens to the bytes they came from.
func TestNameArena(t *testing.T) {
	var a nameArena
	var got, want []string
	buf := make([]byte, 0, 64)
	for i := range 20000 { // several blocks
		buf = fmt.Appendf(buf[:0], "host%d.example", i)
		got = append(got, intern(&a, buf))
		want = append(want, string(buf))
	}
	buf = fmt.Appendf(buf[:0], "overwritten")
	long := string(make([]byte, nameBlock))
	if s := intern(&a, long); s != long {
		t.Fatal("a name longer than a block changed")
	}
	if intern(&a, "") != "" || intern(&a, "a.test") != "a.test" {
		t.Fatal("short names changed")
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("name %d is %q, want %q", i, got[i], want[i])
		}
	}
}
