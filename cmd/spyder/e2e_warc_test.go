// e2e_warc_test.go: the WARC output read back.

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
)

// TestWARCOutputReadsBack crawls the local site with output_warc_dir set
// on the master and reads the WARC files back with an independent reader:
// every page the site served has a response record whose payload is the
// site's own bytes, with its request record beside it. By default the
// worker writes them (in files of its own, and no body travels to the
// master); with warc_writer master, the master, from the exchanges the
// worker recorded on the wire.
func TestWARCOutputReadsBack(t *testing.T) {
	for _, writer := range []string{"worker", "master"} {
		t.Run(writer, func(t *testing.T) { testWARCOutputReadsBack(t, writer) })
	}
}

func testWARCOutputReadsBack(t *testing.T, writer string) {
	site := startSiteOn(t, []string{"127.0.0.2", "127.0.0.3"}, 8, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0", "SPYDER_WARC_WRITER="+writer)
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--output-warc-dir", dir+"/warc")
	waitClean(t, m, w)

	files, err := filepath.Glob(dir + "/warc/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no WARC files: %v", err)
	}
	workerFiles := fmt.Sprintf("spyder-%d-", w.Cmd.Process.Pid)
	for _, f := range files {
		if byWorker := strings.HasPrefix(filepath.Base(f), workerFiles); byWorker != (writer == "worker") || strings.HasSuffix(f, ".open") {
			t.Errorf("warc_writer %s wrote %s (the worker's files begin %s; none is left open)", writer, filepath.Base(f), workerFiles)
		}
	}
	ready := m.Find(event(events.MasterReady))
	if len(ready) != 1 || ready[0]["bodies"] != false || ready[0]["wire"] != (writer == "master") {
		t.Errorf("warc_writer %s: master started with %v (no decoded body travels; the exchanges as recorded travel to the master only when it writes)", writer, ready)
	}

	records, err := testsite.ReadWARCDir(dir + "/warc")
	if err != nil {
		t.Fatal(err)
	}
	requests := map[string]bool{}
	responses := map[string]testsite.WARCRecord{}
	for _, r := range records {
		switch r.Headers["warc-type"] {
		case "request":
			requests[r.Headers["warc-record-id"]] = true
		case "response":
			responses[r.Headers["warc-target-uri"]] = r
		}
	}
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	served := map[string]bool{}
	for _, req := range site.Log() {
		served["http://"+req.Host+req.Path] = true
	}
	if len(served) == 0 || len(responses) != len(served) {
		t.Fatalf("%d response records for %d URLs served", len(responses), len(served))
	}
	for u := range served {
		r, ok := responses[u]
		if !ok {
			t.Errorf("%s: no response record", u)
			continue
		}
		if !requests[r.Headers["warc-concurrent-to"]] {
			t.Errorf("%s: no request record beside the response", u)
		}
		status, _, body, err := r.Response()
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		// What the server sends for this URL now, byte for byte (it is
		// deterministic).
		resp, err := noRedirects.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if status != resp.StatusCode || !bytes.Equal(body, want) {
			t.Errorf("%s: WARC has %d and %d bytes, the server sends %d and %d bytes", u, status, len(body), resp.StatusCode, len(want))
		}
	}
}
