package warcfile

import (
	"fmt"
	"sync"
	"testing"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// BenchmarkWrite20KB writes the records of a fetch of a 20 KB page.
func BenchmarkWrite20KB(b *testing.B) {
	w, err := New(Options{Dir: b.TempDir(), Prefix: "b-", MaxFileSize: 1 << 30, Software: "bench", Files: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	page := testsite.SitePage()
	e := Exchange{Target: "http://h.test/p/17.html", Status: 200, Req: map[string]string{"User-Agent": "spyder"},
		Rep: map[string]string{"Content-Type": "text/html", "Server": "nginx"}, Body: page}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(e); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteConcurrently: fetchers archive at once, files rotate under
// them (a new file's warcinfo is built inside gowarc's Write); every
// record reads back, and under -race nothing races.
func TestWriteConcurrently(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Prefix: "c-", MaxFileSize: 64 << 10, Software: "test", Files: 2})
	if err != nil {
		t.Fatal(err)
	}
	page := testsite.SitePage()
	const fetchers, each = 8, 10
	var wg sync.WaitGroup
	for f := range fetchers {
		wg.Go(func() {
			for i := range each {
				e := Exchange{Target: fmt.Sprintf("http://h.test/%d/%d", f, i), Status: 200, Rep: map[string]string{"Content-Type": "text/html"}, Body: page}
				if err := w.Write(e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	records, err := testsite.ReadWARCDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	responses, infos := map[string]bool{}, 0
	for _, r := range records {
		switch r.Headers["warc-type"] {
		case "response":
			responses[r.Headers["warc-target-uri"]] = true
		case "warcinfo":
			infos++
		}
	}
	if len(responses) != fetchers*each || infos < 2 {
		t.Fatalf("%d distinct responses of %d, %d warcinfo records (files must have rotated)", len(responses), fetchers*each, infos)
	}
}
