// load_test.go: opening a store: the queues' heads and sizes as stored.

package frontier

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/urlx"
)

// TestLoadHeads: the heads read at open, in one ordered pass or in runs
// side by side, are each queue's earliest entry; a queue whose record
// counts entries that are gone is empty.
func TestLoadHeads(t *testing.T) {
	const hosts = 600
	dir := t.TempDir()
	start := time.Now().Truncate(time.Second)
	f := open(t, "multiple_host", Options{Dir: dir})
	wantHead := map[string]time.Time{} // by host: the earliest due
	gone := map[string]bool{}          // hosts whose entries are deleted below
	for h := range hosts {
		host := fmt.Sprintf("h%d.example", h)
		a, b := "http://"+host+"/a", "http://"+host+"/b"
		if n, err := f.Add([]string{a, b}, start); n != 2 || err != nil {
			t.Fatalf("Add: %d %v", n, err)
		}
		dueA := start.Add(time.Duration(h%37) * time.Second)
		dueB := start.Add(time.Duration(h%11) * time.Second)
		redate(t, f, a, dueA)
		redate(t, f, b, dueB)
		wantHead[host] = dueB
		if dueA.Before(dueB) {
			wantHead[host] = dueA
		}
		if h%50 == 7 {
			gone[host] = true
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Delete the entries of some queues behind the frontier's back, as a
	// store damaged by hand would be; their records still count 2.
	db, err := pebble.Open(dir, &pebble.Options{Logger: newPebbleLogger(zerolog.Nop())})
	if err != nil {
		t.Fatal(err)
	}
	for host := range gone {
		p := queuePrefix(queueID(urlx.Host("http://" + host + "/")))
		if err := db.DeleteRange(p, upperBound(p), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	f = open(t, "multiple_host", Options{Dir: dir})
	check := func(how string, queues map[uint64]*queueState) {
		t.Helper()
		if len(queues) != hosts {
			t.Fatalf("%s: %d queues, want %d", how, len(queues), hosts)
		}
		for _, q := range queues {
			switch {
			case gone[q.name] && q.queued != 0:
				t.Errorf("%s: %s has no entries but counts %d", how, q.name, q.queued)
			case !gone[q.name] && q.queued != 2:
				t.Errorf("%s: %s counts %d entries, want 2", how, q.name, q.queued)
			case !gone[q.name] && !q.headDue.Equal(wantHead[q.name]):
				t.Errorf("%s: %s head due %v, want %v", how, q.name, q.headDue, wantHead[q.name])
			}
		}
	}
	check("open", f.queues)
	// Each split of the queues into runs finds the same.
	for _, runs := range []int{1, 3, 8} {
		fresh := map[uint64]*queueState{}
		var ordered []*queueState
		err := scan(f.db, pfxHost, func(k, v []byte) error {
			q, err := decodeQueueRecord(k, v)
			fresh[q.id] = q
			ordered = append(ordered, q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.readHeadsInRuns(ordered, runs); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("%d runs", runs), fresh)
	}
}
