package frontier

import (
	"fmt"
	"testing"
	"time"
)

// TestQueueReadAheadStaysBounded: a queue read to its end takes every URL
// admitted after into its read-ahead; it stops at maxBuffered (the rest is
// read from the store again), and the order is the same: a returned URL
// first, then the others as admitted.
func TestQueueReadAheadStaysBounded(t *testing.T) {
	now := time.Now()
	f := open(t, "single_host", Options{Dir: t.TempDir()})
	f.Add([]string{"http://a/0", "http://a/1"}, now)
	b, err := f.Next(now, 1) // reads the queue to its end
	if err != nil || len(b) != 1 || b[0].URL != "http://a/0" {
		t.Fatalf("first: %v %v", b, err)
	}
	var want []string
	for i := 2; i < 1000; i++ {
		u := fmt.Sprintf("http://a/%d", i)
		want = append(want, u)
		f.Add([]string{u}, now)
	}
	for _, q := range queueList(f) {
		if len(q.buffered()) > 2*readAhead {
			t.Fatalf("read-ahead of %d entries, bound %d", len(q.buffered()), 2*readAhead)
		}
	}
	if err := f.Release(b[0].LeaseID, now); err != nil {
		t.Fatal(err)
	}
	want = append([]string{"http://a/0", "http://a/1"}, want...)
	var got []string
	for len(got) < len(want) {
		b, err := f.Next(now, 100)
		if err != nil || len(b) == 0 {
			t.Fatalf("after %d URLs: %v %v", len(got), b, err)
		}
		for _, c := range b {
			got = append(got, c.URL)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order:\ngot  %v\nwant %v", got, want)
	}
}
