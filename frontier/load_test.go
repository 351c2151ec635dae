// load_test.go: opening a store: the queues' heads and sizes as stored.

package frontier

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/urlx"
)

// TestLoadHeads: the heads a store opens with are each queue's earliest
// entry: taken from the queue records (format 4), or read from the entries,
// in one ordered pass or in runs side by side (format 3, which the open
// then upgrades). A queue whose record counts entries that are gone counts
// none once it is read: at once in a format 3 store, at its first dispatch
// in format 4, which goes on without it.
func TestLoadHeads(t *testing.T) {
	const hosts = 600
	dir := t.TempDir()
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
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
	// store damaged by hand would be; their records still count 2. Keep a
	// copy of the store rewritten as format 3 had it.
	damage := func(dir string, asFormat3 bool) {
		db, err := pebble.Open(dir, &pebble.Options{Logger: newPebbleLogger(zerolog.Nop())})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for host := range gone {
			p := queuePrefix(queueID(urlx.Host("http://" + host + "/")))
			if err := db.DeleteRange(p, upperBound(p), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
		if asFormat3 {
			downgradeToFormat3(t, db)
		}
	}
	dir3 := t.TempDir()
	if err := os.CopyFS(dir3, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir3, "spyder.lock"))
	damage(dir, false)
	damage(dir3, true)

	check := func(how string, queues []*queueState, goneCount int64) {
		t.Helper()
		if len(queues) != hosts {
			t.Fatalf("%s: %d queues, want %d", how, len(queues), hosts)
		}
		for _, q := range queues {
			switch {
			case gone[q.name] && q.queued != goneCount:
				t.Errorf("%s: %s has no entries and counts %d, want %d", how, q.name, q.queued, goneCount)
			case !gone[q.name] && q.queued != 2:
				t.Errorf("%s: %s counts %d entries, want 2", how, q.name, q.queued)
			case !gone[q.name] && !time.Unix(0, q.headDue).Equal(wantHead[q.name]):
				t.Errorf("%s: %s head due %v, want %v", how, q.name, time.Unix(0, q.headDue), wantHead[q.name])
			}
		}
	}
	// Format 4: heads from the records; the damage is found by dispatch.
	f = open(t, "multiple_host", Options{Dir: dir})
	check("format 4", queueList(f), 2)
	got := 0
	for range hosts {
		batch, err := f.Next(time.Now(), 100)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		for _, c := range batch {
			if gone[urlx.Host(c.URL)] {
				t.Fatalf("%s dispatched from a queue with no entries", c.URL)
			}
			got++
			if _, err := f.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := 2 * (hosts - len(gone)); got != want {
		t.Fatalf("format 4: dispatched %d URLs, want %d", got, want)
	}
	for _, q := range queueList(f) {
		if gone[q.name] && q.queued != 0 {
			t.Errorf("format 4: %s still counts %d after its dispatch", q.name, q.queued)
		}
	}

	// Format 3: heads read from the entries, the store upgraded.
	g := open(t, "multiple_host", Options{Dir: dir3})
	check("format 3", queueList(g), 0)
	if g.format != storeFormat {
		t.Fatalf("format 3 store opened as format %d, want it upgraded to %d", g.format, storeFormat)
	}
	err := scan(g.db, pfxHost, func(k, v []byte) error {
		q, _, err := g.decodeQueueRecord(k, v)
		if err == nil && q.queued > 0 && !time.Unix(0, q.headDue).Equal(wantHead[q.name]) {
			t.Errorf("upgraded record of %s: head %v, want %v", q.name, time.Unix(0, q.headDue), wantHead[q.name])
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each split of the queues into runs finds the same heads, and the
	// counts of the damaged queues wrong.
	for _, runs := range []int{1, 3, 8} {
		var ordered []*queueState
		err := scan(g.db, pfxHost, func(k, v []byte) error {
			q, _, err := g.decodeQueueRecord(k, v)
			q.headDue, q.queued = 0, 2
			ordered = append(ordered, q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.readHeadsInRuns(ordered, runs); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("%d runs", runs), ordered, 0)
	}
}

// downgradeToFormat3 rewrites a store's queue records and meta record as
// format 3 wrote them: no heads.
func downgradeToFormat3(t *testing.T, db *pebble.DB) {
	t.Helper()
	b := db.NewBatch()
	err := scan(db, pfxHost, func(k, v []byte) error {
		v3 := append(append([]byte(nil), v[:queueRecordHeaderV3]...), v[queueRecordHeader:]...)
		return b.Set(append([]byte(nil), k...), v3, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	meta, closer, err := db.Get(metaKey("state"))
	if err != nil {
		t.Fatal(err)
	}
	meta = append([]byte(nil), meta...)
	closer.Close()
	binary.BigEndian.PutUint64(meta[8*8:], 3)
	if err := b.Set(metaKey("state"), meta, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// TestHeadsAcrossRestarts: a queue's head after a restart is its earliest
// entry even when that entry was leased at the stop (the record's head
// leaves it out), and a record's head that is earlier than the queue's
// real one (a dispatch moved it on without rewriting the record) does not
// make the queue dispatch early.
func TestHeadsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Truncate(time.Second)
	f := open(t, "multiple_host", Options{Dir: dir})
	f.Add([]string{"http://leased.test/a", "http://leased.test/b", "http://early.test/a"}, now)
	redate(t, f, "http://leased.test/b", now.Add(time.Hour))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	// leased.test/a goes out; a new URL rewrites the queue's record, whose
	// head is then b's, an hour away.
	batch, err := f.Next(now, 2)
	if err != nil || len(batch) != 2 {
		t.Fatalf("Next: %v %v", batch, err)
	}
	f.Add([]string{"http://leased.test/c"}, now)
	redate(t, f, "http://leased.test/c", now.Add(2*time.Hour))
	// early.test/a goes back an hour without its record knowing.
	for _, c := range batch {
		if c.URL == "http://early.test/a" {
			if err := f.ReturnUnsent(c.LeaseID, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	redate(t, f, "http://early.test/a", now.Add(time.Hour))
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil { // leased.test/a's lease is still out
		t.Fatal(err)
	}

	g := open(t, "multiple_host", Options{Dir: dir})
	if q, want := g.queues.get(queueID("leased.test")), int64(newURLDue); q.headDue != want || q.queued != 3 {
		t.Fatalf("leased.test: head %v, %d queued; want %v (its leased entry, new), 3", time.Unix(0, q.headDue), q.queued, time.Unix(0, want))
	}
	batch, err = g.Next(now.Add(time.Minute), 10)
	if err != nil || len(batch) != 1 || batch[0].URL != "http://leased.test/a" {
		t.Fatalf("a minute on: %v %v; want only leased.test/a, queued again", urlsOf(batch), err)
	}
	if _, err := g.Done(&crawluri.CrawlUri{URL: batch[0].URL, LeaseID: batch[0].LeaseID, StatusCode: 200}, nil, now); err != nil {
		t.Fatal(err)
	}
	if q := g.queues.get(queueID("early.test")); q.headDue != now.Add(time.Hour).UnixNano() {
		t.Fatalf("early.test: head %v after its first dispatch try, want %v", time.Unix(0, q.headDue), now.Add(time.Hour))
	}
	batch, err = g.Next(now.Add(time.Hour+time.Minute), 10)
	if err != nil || len(batch) != 2 {
		t.Fatalf("an hour on: %v %v; want early.test/a and leased.test/b", urlsOf(batch), err)
	}
}

func urlsOf(batch []*crawluri.CrawlUri) []string {
	var out []string
	for _, c := range batch {
		out = append(out, c.URL)
	}
	return out
}
