package warcfile

import (
	"crypto/sha1"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// BenchmarkWrite20KB writes the records of a fetch of a 20 KB page.
func BenchmarkWrite20KB(b *testing.B) {
	w, err := New(Options{Dir: b.TempDir(), Prefix: "b-", MaxFileSize: 1 << 30, Software: "bench"})
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
// them; every record reads back with its digests, and under -race nothing
// races.
func TestWriteConcurrently(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Prefix: "c-", MaxFileSize: 64 << 10, Software: "test"})
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

// TestRecords: what a fetch's records say, read back by the independent
// reader (which checks every digest): the warcinfo opening the file, the
// request as sent, the response rebuilt from the decoded body, each
// naming the other, and the payload digest of the body.
func TestRecords(t *testing.T) {
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Prefix: "r-", MaxFileSize: 1 << 20, Software: "spyder-test/1"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("<html><body>caf\xc3\xa9</body></html>")
	e := Exchange{Target: "http://h.test:8080/a/b?q=1", Status: 404, Truncated: true, Body: body,
		Req: map[string]string{"User-Agent": "spyder", "Host": "ignored", "X-Bad": "a\r\nInjected: 1"},
		Rep: map[string]string{"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": "3", "Server": "nginx"}}
	if err := w.Write(e); err != nil {
		t.Fatal(err)
	}
	if open, _ := filepath.Glob(filepath.Join(dir, "*.open")); len(open) != 1 {
		t.Fatalf("while written: %v, want one .open file", open)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 || !strings.HasPrefix(filepath.Base(files[0]), "r-") || !strings.HasSuffix(files[0], ".warc.gz") {
		t.Fatalf("files %v, want one r-*.warc.gz", files)
	}
	records, err := testsite.ReadWARCDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 3 {
		t.Fatalf("%d records, want warcinfo, request, response", len(records))
	}
	info, req, resp := records[0], records[1], records[2]
	for _, c := range []struct {
		r          testsite.WARCRecord
		typ, ctype string
	}{{info, "warcinfo", "application/warc-fields"}, {req, "request", "application/http;msgtype=request"}, {resp, "response", "application/http;msgtype=response"}} {
		if c.r.Headers["warc-type"] != c.typ || c.r.Headers["content-type"] != c.ctype || c.r.Headers["warc-block-digest"] == "" ||
			!strings.HasPrefix(c.r.Headers["warc-record-id"], "<urn:uuid:") || !strings.HasSuffix(c.r.Headers["warc-date"], "Z") {
			t.Errorf("%s record: headers %v", c.typ, c.r.Headers)
		}
	}
	if info.Headers["warc-filename"] != filepath.Base(files[0]) || strings.Count(string(info.Block), "software: spyder-test/1\r\n") != 1 ||
		strings.Contains(string(info.Block), "Content-Type") {
		t.Errorf("warcinfo: %v %q", info.Headers, info.Block)
	}
	if req.Headers["warc-concurrent-to"] != resp.Headers["warc-record-id"] || resp.Headers["warc-concurrent-to"] != req.Headers["warc-record-id"] {
		t.Errorf("request and response do not name each other: %v %v", req.Headers, resp.Headers)
	}
	wantReq := "GET /a/b?q=1 HTTP/1.1\r\nHost: h.test:8080\r\nUser-Agent: spyder\r\n\r\n"
	if string(req.Block) != wantReq || req.Headers["warc-target-uri"] != e.Target {
		t.Errorf("request block %q, want %q (a header with a line break is left out)", req.Block, wantReq)
	}
	status, header, got, err := resp.Response()
	if err != nil || status != 404 || string(got) != string(body) || header.Get("Content-Encoding") != "" ||
		header.Get("Content-Length") != fmt.Sprint(len(body)) || header.Get("Server") != "nginx" {
		t.Errorf("response: %d %v %q %v", status, header, got, err)
	}
	sum := sha1.Sum(body)
	if resp.Headers["warc-payload-digest"] != "sha1:"+base32.StdEncoding.EncodeToString(sum[:]) || resp.Headers["warc-truncated"] != "length" {
		t.Errorf("response headers %v", resp.Headers)
	}
}

// TestWriteAfterFailure: a write that fails ends its file (renamed, its
// records before the failure intact) and the next fetch begins a new
// file; two writers of one directory in the same second take different
// names.
func TestWriteAfterFailure(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, Prefix: "f-", MaxFileSize: 1 << 20, Software: "test"}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := Exchange{Target: "http://h.test/", Status: 200, Body: []byte("page")}
	if err := w.Write(e); err != nil {
		t.Fatal(err)
	}
	w.f.Close() // what a full disk or a lost mount does to the next write
	if err := w.Write(e); err == nil {
		t.Fatal("a write to a closed file succeeded")
	}
	if err := w.Write(e); err != nil {
		t.Fatalf("the write after a failure: %v", err)
	}
	other, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Write(e); err != nil {
		t.Fatal(err)
	}
	for _, wr := range []*Writer{w, other} {
		if err := wr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 3 {
		t.Fatalf("files %v, want 3: the failed one, the next, the other writer's", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || !strings.HasSuffix(f, ".warc.gz") || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	records, err := testsite.ReadWARCDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	responses := 0
	for _, r := range records {
		if r.Headers["warc-type"] == "response" {
			responses++
		}
	}
	if responses != 3 {
		t.Errorf("%d responses read back, want 3 (the failed write's is lost, nothing else)", responses)
	}
}

// TestRecordsOfTheWire: an exchange recorded on the wire is archived byte
// for byte — the request as sent, the response as received — with the
// address it came from, and its payload digest is of the entity body:
// de-chunked, still gzipped. A response cut inside its chunking is marked
// truncated.
func TestRecordsOfTheWire(t *testing.T) {
	zpage := []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xffgzip bytes as the server sent them")
	chunked := "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Encoding: gzip\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 10, zpage[:10], len(zpage)-10, zpage[10:])
	http10 := "HTTP/1.0 200 Fine\r\nContent-Type: text/plain\r\n\r\nold server"
	request := "GET /p HTTP/1.1\r\nHost: h.test\r\nUser-Agent: spyder\r\naccept-encoding: gzip\r\n\r\n"
	cases := []struct {
		name, raw   string
		payload     []byte
		truncated   bool
		wantRequest string
	}{
		{"chunked gzip", chunked, zpage, false, request},
		{"HTTP/1.0", http10, []byte("old server"), false, request},
		{"cut in a chunk", chunked[:len(chunked)-20], nil, true, request},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := New(Options{Dir: dir, Prefix: "w-", MaxFileSize: 1 << 20, Software: "spyder-test/1"})
			if err != nil {
				t.Fatal(err)
			}
			e := Exchange{Target: "http://h.test/p", Status: 200, Body: []byte("decoded, not archived"),
				RawRequest: []byte(request), RawResponse: []byte(tc.raw), IP: "127.0.0.9"}
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			records, err := testsite.ReadWARCDir(dir) // checks both digests
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != 3 {
				t.Fatalf("%d records", len(records))
			}
			req, resp := records[1], records[2]
			if string(req.Block) != tc.wantRequest {
				t.Errorf("request block %q", req.Block)
			}
			if string(resp.Block) != tc.raw || resp.Headers["warc-ip-address"] != "127.0.0.9" {
				t.Errorf("response block %q, headers %v", resp.Block, resp.Headers)
			}
			if (resp.Headers["warc-truncated"] == "length") != tc.truncated {
				t.Errorf("WARC-Truncated %q, want truncated %v", resp.Headers["warc-truncated"], tc.truncated)
			}
			if tc.payload != nil {
				sum := sha1.Sum(tc.payload)
				if resp.Headers["warc-payload-digest"] != "sha1:"+base32.StdEncoding.EncodeToString(sum[:]) {
					t.Errorf("payload digest %q, want the entity body's", resp.Headers["warc-payload-digest"])
				}
			}
		})
	}
}

// TestNotModifiedIsARevisit: a 304 to a conditional GET is archived as a
// revisit record of the server-not-modified profile, its block the 304's
// head, naming the URL it confirms; no payload digest (it has none).
func TestNotModifiedIsARevisit(t *testing.T) {
	raw := "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"
	records := writeAndRead(t,
		Exchange{Target: "http://h.test/p", Status: 304, RawRequest: []byte("GET /p HTTP/1.1\r\nHost: h.test\r\nIf-None-Match: \"v1\"\r\n\r\n"), RawResponse: []byte(raw)},
		Exchange{Target: "http://h.test/q", Status: 304, Rep: map[string]string{"Etag": `"v2"`}}, // not recorded on the wire: rebuilt
	)
	var revisits []testsite.WARCRecord
	for _, r := range records {
		switch r.Headers["warc-type"] {
		case "response":
			t.Errorf("a 304 archived as a response: %v", r.Headers)
		case "revisit":
			revisits = append(revisits, r)
		}
	}
	if len(revisits) != 2 {
		t.Fatalf("%d revisit records, want 2", len(revisits))
	}
	for i, r := range revisits {
		target := []string{"http://h.test/p", "http://h.test/q"}[i]
		if r.Headers["warc-profile"] != "http://netpreserve.org/warc/1.1/revisit/server-not-modified" ||
			r.Headers["warc-refers-to-target-uri"] != target || r.Headers["warc-target-uri"] != target ||
			r.Headers["warc-payload-digest"] != "" || r.Headers["content-type"] != "application/http;msgtype=response" {
			t.Errorf("revisit %d: headers %v", i, r.Headers)
		}
	}
	if string(revisits[0].Block) != raw {
		t.Errorf("revisit block %q, want the 304 as received", revisits[0].Block)
	}
}

// writeAndRead writes exchanges to a new directory's WARC files and reads
// them back with testsite's reader, which checks every digest.
func writeAndRead(t *testing.T, exchanges ...Exchange) []testsite.WARCRecord {
	t.Helper()
	dir := t.TempDir()
	w, err := New(Options{Dir: dir, Prefix: "t-", MaxFileSize: 1 << 20, Software: "spyder-test/1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exchanges {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	records, err := testsite.ReadWARCDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return records
}
