package zsock

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
)

func newTestWaker(t *testing.T) *Waker {
	t.Helper()
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWaker(zctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close()
		zctx.Term()
	})
	return w
}

// TestWakerCoalesces: wake-ups not yet drained absorb later ones without
// a send, and a Drain re-arms the waker.
func TestWakerCoalesces(t *testing.T) {
	w := newTestWaker(t)
	queued := func() int {
		n := 0
		for {
			if _, err := w.pull.RecvBytes(zmq.DONTWAIT); err != nil {
				return n
			}
			n++
		}
	}
	for range 1000 {
		w.Wake()
	}
	// inproc delivers at once; give it a moment under -race anyway.
	time.Sleep(10 * time.Millisecond)
	if n := queued(); n != 1 {
		t.Fatalf("1,000 wakes before a drain queued %d wake-ups, want 1", n)
	}
	// queued read the socket but did not clear the flag: only Drain
	// re-arms, and then the next Wake sends.
	w.Drain()
	w.Wake()
	time.Sleep(10 * time.Millisecond)
	if n := queued(); n != 1 {
		t.Fatalf("a wake after a drain queued %d wake-ups, want 1", n)
	}
}

// TestWakerLosesNoWork: producers hand items over and wake the loop; the
// loop sleeps in a poll with a long timeout and takes everything, so a
// lost wake-up shows as a poll that times out with items waiting.
func TestWakerLosesNoWork(t *testing.T) {
	w := newTestWaker(t)
	const producers, each = 4, 5000
	var made atomic.Int64
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				made.Add(1)
				w.Wake()
			}
		}()
	}
	poller := zmq.NewPoller()
	poller.Add(w.Socket(), zmq.POLLIN)
	var taken int64
	for taken < producers*each {
		polled, err := poller.Poll(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(polled) == 0 {
			t.Fatalf("poll timed out with %d items made and %d taken: a wake-up was lost", made.Load(), taken)
		}
		w.Drain()
		taken = made.Load() // the loop looks at everything made so far
	}
	wg.Wait()
}
