// bulk_test.go: bulk seeding (spyder frontier inject) and its benchmarks.

package frontier

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
)

// TestBulkAddSeeds: the bulk load admits exactly what AddSeeds would (new
// URLs once, known ones not again, duplicates within the input once), the
// result survives a reopen, and the URLs are then dispatched like any
// others.
func TestBulkAddSeeds(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	opts := Options{Dir: dir}
	f, err := Open("multiple_host", opts)
	if err != nil {
		t.Fatal(err)
	}
	c := f.(*crawl)
	d := c.Store.(*Durable)
	d.AddSeeds([]string{"http://a.test/known"}, now)
	// A lease in flight and uncommitted changes must survive the bulk load.
	b, _ := d.Next(now, 1)
	c.Add([]string{"http://b.test/pending"}, now)

	var urls []string
	for i := range 300 {
		urls = append(urls, fmt.Sprintf("http://h%d.test/%d", i%7, i))
	}
	// b.test has a URL queued already: its queue record must count both.
	urls = append(urls, "http://a.test/known", "http://h1.test/1", "http://b.test/pending", "http://b.test/bulk")
	added, err := BulkAddSeeds(d, urls, now)
	if err != nil || added != 301 {
		t.Fatalf("added %d, %v; want 301", added, err)
	}
	if again, err := BulkAddSeeds(d, urls, now); err != nil || again != 0 {
		t.Fatalf("second load added %d, %v", again, err)
	}
	want := Stats{Seen: 303, Queued: 302, InFlight: 1, ActiveQueues: 8} // 8 hosts with URLs, all active (no slot limit)
	if st := d.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	g := open(t, "multiple_host", opts)
	want.InFlight = 0
	want.Queued++       // the lease of the closed run is queued again
	want.ActiveQueues++ // and its host, which had nothing else, has a URL again
	if st := g.Stats(); st != want {
		t.Fatalf("after reopen: stats %+v, want %+v", st, want)
	}
	hosts, _ := g.SeedHosts()
	slices.Sort(hosts)
	if len(hosts) != 9 || hosts[0] != "a.test" || hosts[1] != "b.test" || hosts[2] != "h0.test" {
		t.Fatalf("seed hosts %v", hosts)
	}
	got := map[string]bool{}
	for round := 0; round < 1000 && len(got) < 303; round++ {
		batch, err := g.Next(time.Now(), 100) // the requeued lease is due from the reopen on
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range batch {
			if got[c.URL] {
				t.Fatalf("%s twice", c.URL)
			}
			got[c.URL] = true
			g.Done(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, nil, now)
		}
	}
	for _, u := range append(urls, b[0].URL) {
		if !got[u] {
			t.Logf("missing %s", u)
		}
	}
	if len(got) != 303 || !got[b[0].URL] || !got["http://b.test/pending"] || !got["http://h5.test/299"] {
		t.Fatalf("dispatched %d of 303 URLs", len(got))
	}
}

// BenchmarkSeeding admits new URLs over 100k hosts as seeds: through
// AddSeeds and Commit in batches of 10,000 (the master's path), and, as
// `spyder frontier inject` does, through one bulk load fed in chunks of
// 500,000. Run with -benchtime 1000000x for the 1M-URL figures.
func BenchmarkSeeding(b *testing.B) {
	for _, tc := range []struct {
		name  string
		chunk int
		// start begins a load: add takes each chunk, finish ends it.
		start func(f *Durable, now time.Time) (add func([]string) error, finish func() error)
	}{
		{"AddSeeds", 10000, func(f *Durable, now time.Time) (func([]string) error, func() error) {
			return func(urls []string) error {
				if _, err := f.AddSeeds(urls, now); err != nil {
					return err
				}
				return f.Commit()
			}, func() error { return nil }
		}},
		{"BulkLoad", 500000, func(f *Durable, now time.Time) (func([]string) error, func() error) {
			l, err := f.BulkLoad(now)
			if err != nil {
				return func([]string) error { return err }, func() error { return err }
			}
			return l.Add, func() error { _, err := l.Finish(); return err }
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := open(b, "multiple_host", Options{Dir: b.TempDir()})
			now := time.Now()
			chunk := make([]string, 0, tc.chunk)
			b.ReportAllocs()
			b.ResetTimer()
			add, finish := tc.start(f.Durable, now)
			for i := range b.N { // not b.Loop: the last chunk and the finish must be timed
				chunk = append(chunk, fmt.Sprintf("http://host%d.example/page/%d.html", i%100000, i))
				if len(chunk) == cap(chunk) || i == b.N-1 {
					if err := add(chunk); err != nil {
						b.Fatal(err)
					}
					chunk = chunk[:0]
				}
			}
			if err := finish(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkDrain is the frontier's share of the master's round trip on
// 100k hosts: b.N URLs bulk-loaded over 100k hosts (multiple_host, every
// host active, politeness 0), then leased 1,000 at a time, each answered
// 200, one commit per 1,000, as the master's loop does.
func BenchmarkDrain(b *testing.B) {
	f := open(b, "multiple_host", Options{Dir: b.TempDir()})
	now := time.Now()
	urls := make([]string, b.N)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://host%d.example/page/%d.html", i%100000, i)
	}
	if _, err := BulkAddSeeds(f.crawl, urls, now); err != nil {
		b.Fatal(err)
	}
	res := &crawluri.CrawlUri{StatusCode: 200}
	b.ResetTimer()
	done := 0
	for done < b.N {
		batch, err := f.Next(now, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(batch) == 0 {
			b.Fatalf("nothing to dispatch after %d of %d", done, b.N)
		}
		for _, c := range batch {
			res.URL, res.LeaseID = c.URL, c.LeaseID
			if _, err := f.Done(res, nil, now); err != nil {
				b.Fatal(err)
			}
		}
		done += len(batch)
		if err := f.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	m := f.db.Metrics()
	b.ReportMetric(float64(m.Total().TableBytesCompacted)/float64(b.N), "compacted-B/url")
	b.ReportMetric(float64(m.Total().TableBytesFlushed)/float64(b.N), "flushed-B/url")
}

// TestRecordTemplate: a bulk load's records, encoded from a template, are
// what newRecord would have encoded.
func TestRecordTemplate(t *testing.T) {
	now := time.Now()
	tmpl := newRecordTemplate(newRecord("", 0, now, "seed"))
	for _, tc := range []struct {
		url   string
		queue uint64
	}{
		{"http://a.test/", 1},
		{"https://example.com/" + strings.Repeat("x", 300), 1 << 63}, // a two-byte length
		{"", 42},
	} {
		want := newRecord(tc.url, tc.queue, now, "seed")
		got := tmpl.appendRecord([]byte("prefix"), tc.queue, []byte(tc.url))
		if !bytes.Equal(got[6:], want.encode()) {
			t.Errorf("%q in queue %d: template gave %x, want %x", tc.url, tc.queue, got[6:], want.encode())
		}
	}
}
