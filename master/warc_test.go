// warc_test.go: the WARC sink's records and rotation.

package master

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// TestWARCSinkRecordsAndRotation writes results through the WARC sink and
// reads them back independently: a warcinfo record first in every file,
// a request and a response per result (linked), payloads byte for byte,
// transfer codings dropped, truncation marked, transport errors skipped,
// files rotated by size.
func TestWARCSinkRecordsAndRotation(t *testing.T) {
	dir := t.TempDir()
	s, err := NewWARCSink(warcfile.Options{Dir: dir, Prefix: "test-", MaxFileSize: 1 << 20, Software: "spyder-test"}, false)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for i := range 30 {
		body := make([]byte, 100<<10) // incompressible: 3 MB in all, so files rotate at 1 MiB
		rand.Read(body)
		u := fmt.Sprintf("http://h.test/page/%d?x=1", i)
		bodies[u] = body
		c := &crawluri.CrawlUri{URL: u, EffectiveURL: u, StatusCode: 200, ContentBody: body,
			ReqHeader: map[string]string{"User-Agent": "spyder-test"},
			RepHeader: map[string]string{"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": "17"}}
		if i == 7 {
			c.SetVar(crawluri.VarTruncated, crawluri.VarTrue)
		}
		if err := s.ProcessSuccessfulCrawl(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ProcessNotFound(&crawluri.CrawlUri{URL: "http://h.test/missing", StatusCode: 404, RepHeader: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ProcessServerError(&crawluri.CrawlUri{URL: "http://h.test/down", StatusCode: crawluri.StatusTransportError, Error: "connection refused"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	records, err := testsite.ReadWARCDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	ids := map[string]string{} // record id -> type
	var responses []testsite.WARCRecord
	for i, r := range records {
		if i == 0 || r.File != records[i-1].File {
			files[r.File] = true
			if r.Headers["warc-type"] != "warcinfo" || !strings.Contains(string(r.Block), "software: spyder-test") {
				t.Fatalf("%s does not open with a warcinfo record: %v", r.File, r.Headers)
			}
		}
		ids[r.Headers["warc-record-id"]] = r.Headers["warc-type"]
		if r.Headers["warc-type"] == "response" {
			responses = append(responses, r)
		}
	}
	if len(files) < 2 {
		t.Fatalf("%d files for 3 MB at 1 MiB each: no rotation", len(files))
	}
	if len(responses) != 31 {
		t.Fatalf("%d response records, want 31 (the transport error has none)", len(responses))
	}
	for _, r := range responses {
		target := r.Headers["warc-target-uri"]
		if ids[r.Headers["warc-concurrent-to"]] != "request" {
			t.Errorf("%s: response not linked to its request", target)
		}
		status, h, body, err := r.Response()
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if target == "http://h.test/missing" {
			if status != 404 {
				t.Errorf("404 recorded as %d", status)
			}
			continue
		}
		if status != 200 || !bytes.Equal(body, bodies[target]) || h.Get("Content-Encoding") != "" {
			t.Errorf("%s: status %d, %d bytes (want %d), Content-Encoding %q", target, status, len(body), len(bodies[target]), h.Get("Content-Encoding"))
		}
		if truncated := r.Headers["warc-truncated"] == "length"; truncated != (target == "http://h.test/page/7?x=1") {
			t.Errorf("%s: WARC-Truncated %q", target, r.Headers["warc-truncated"])
		}
	}
}
