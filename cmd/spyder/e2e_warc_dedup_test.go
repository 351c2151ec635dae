// e2e_warc_dedup_test.go: revisits of unchanged payloads archived as
// revisit records, across a restart of the master, read back by warcio.js.

package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// dedupSite serves pages whose payload stays the same on every visit
// (/, /same, and /twin1 and /twin2, which are alike), one that changes on
// every visit (/changes), and one that answers a conditional GET with 304
// after its first visit (/etag). visits counts the requests of each path.
type dedupSite struct {
	mu     sync.Mutex
	visits map[string]int
}

func (d *dedupSite) respond(path string) ([]byte, bool) {
	d.mu.Lock()
	d.visits[path]++
	n := d.visits[path]
	d.mu.Unlock()
	page := func(body string) []byte {
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	}
	switch path {
	case "/":
		return page(`<html><a href="/same">s</a><a href="/changes">c</a><a href="/twin1">1</a><a href="/twin2">2</a><a href="/etag">e</a></html>`), false
	case "/same":
		return page("<html><p>the same payload on every visit</p></html>"), false
	case "/twin1", "/twin2":
		return page("<html><p>twins: one payload at two URLs</p></html>"), false
	case "/changes":
		return page(fmt.Sprintf("<html><p>visit %d</p></html>", n)), false
	case "/etag":
		if n > 1 {
			return []byte("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"), false
		}
		return []byte("HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>"), false
	}
	return []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), false
}

func (d *dedupSite) count(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.visits[path]
}

// TestWARCDedup crawls dedupSite with revisits every second, stops the
// master, starts it again on the same crawl state and lets every page be
// fetched again: each unchanged payload is archived whole once and as
// identical-payload-digest revisits after (the capture kept across the
// restart), the changing page whole every time, the 304 as a
// server-not-modified revisit of its capture; with warc_dedup any (the
// master writing), /twin2 is a revisit of /twin1's record or the other way
// round. warcio.js reads every record, and every revisit resolves to the
// record it names.
func TestWARCDedup(t *testing.T) {
	for _, tc := range []struct{ writer, dedup string }{{"worker", "url"}, {"master", "any"}} {
		t.Run(tc.writer+"-"+tc.dedup, func(t *testing.T) { testWARCDedup(t, tc.writer, tc.dedup) })
	}
}

func testWARCDedup(t *testing.T, writer, dedup string) {
	site := &dedupSite{visits: map[string]int{}}
	srv := testsite.StartRawServerOn(t, "127.0.0.2", site.respond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", srv.URL("/"))
	c := newCluster(t, "SPYDER_PRIORITIZER_CRAWL_DELTA=1", "SPYDER_WARC_WRITER="+writer, "SPYDER_WARC_DEDUP="+dedup)
	paths := []string{"/", "/same", "/changes", "/twin1", "/twin2", "/etag"}
	waitVisits := func(what string, want func(p string) int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			done := true
			for _, p := range paths {
				done = done && site.count(p) >= want(p)
			}
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: visits %v", what, site.visits)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// (A master that stops tells its workers to stop too.)
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds, "--output-warc-dir", dir+"/warc")
	waitVisits("the first run", func(string) int { return 1 })
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w)
	before := map[string]int{}
	for _, p := range paths {
		before[p] = site.count(p)
	}
	w = start(t, "worker", c.Env, "worker")
	m = start(t, "master", c.Env, "master", "--output-warc-dir", dir+"/warc")
	waitVisits("after the restart", func(p string) int { return before[p] + 1 })
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w)

	records, err := testsite.ReadWARCDirWithWarcio(dir + "/warc")
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ responses, identical, notModified int }
	byPath := map[string]*tally{}
	var headers []map[string]string
	base := strings.TrimSuffix(srv.URL("/"), "/")
	for _, r := range records {
		if r.BlockDigestOK == nil || !*r.BlockDigestOK {
			t.Errorf("%s record %s: block digest does not match", r.WARC["warc-type"], r.WARC["warc-target-uri"])
		}
		headers = append(headers, r.WARC)
		path := strings.TrimPrefix(r.WARC["warc-target-uri"], base)
		if byPath[path] == nil {
			byPath[path] = &tally{}
		}
		switch r.WARC["warc-type"] + " " + r.WARC["warc-profile"] {
		case "response ":
			byPath[path].responses++
			if r.PayloadDigestOK == nil || !*r.PayloadDigestOK {
				t.Errorf("response %s: payload digest does not match", path)
			}
		case "revisit " + testsite.ProfileIdenticalPayload:
			byPath[path].identical++
			if r.Status != 200 || r.PayloadLength > 0 {
				t.Errorf("revisit of %s: status %d, %d payload bytes; want the 200's head alone", path, r.Status, r.PayloadLength)
			}
		case "revisit " + testsite.ProfileServerNotModified:
			byPath[path].notModified++
		}
	}
	resolved, err := testsite.ResolveRevisits(headers)
	if err != nil {
		t.Error(err)
	}
	got := func(p string) tally {
		if byPath[p] == nil {
			return tally{}
		}
		return *byPath[p]
	}
	for _, p := range []string{"/", "/same"} {
		if g := got(p); g.responses != 1 || g.identical < 1 || g.identical != site.count(p)-1 {
			t.Errorf("%s, unchanged, fetched %d times: %+v; want one response, then revisits", p, site.count(p), g)
		}
	}
	if g := got("/changes"); g.responses != site.count("/changes") || g.identical != 0 {
		t.Errorf("/changes, fetched %d times: %+v; want a response each time", site.count("/changes"), g)
	}
	if g := got("/etag"); g.responses != 1 || g.notModified != site.count("/etag")-1 || g.identical != 0 {
		t.Errorf("/etag, fetched %d times: %+v; want a response, then server-not-modified revisits", site.count("/etag"), g)
	}
	twins := got("/twin1").responses + got("/twin2").responses
	wantTwins := map[string]int{"url": 2, "any": 1}[dedup]
	if twins != wantTwins {
		t.Errorf("/twin1 and /twin2 (one payload) with warc_dedup %s: %d responses, want %d (%+v, %+v)", dedup, twins, wantTwins, got("/twin1"), got("/twin2"))
	}
	identical := 0
	for _, p := range paths {
		identical += got(p).identical
	}
	if resolved[testsite.ProfileIdenticalPayload] != identical || resolved[testsite.ProfileServerNotModified] != got("/etag").notModified {
		t.Errorf("revisits resolved %v; %d identical-payload and %d server-not-modified were written", resolved, identical, got("/etag").notModified)
	}
}
