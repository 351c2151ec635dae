// e2e_hostile_test.go: a server that misbehaves every way (bad UTF-8, broken
// HTML, 50 MB, no answer, redirect loops) does not stop a crawl.

package main

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHostilePages crawls a server that misbehaves in every way issue 4
// lists: invalid UTF-8, broken HTML, a 50 MB body, a response that never
// comes, redirect loops. The worker stays up to the end and each URL is
// reported with a status that says what happened.
func TestHostilePages(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	html := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(body))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<a href="/utf8">u</a><a href="/broken">b</a><a href="/huge">h</a><a href="/hang">n</a><a href="/loop">l</a><a href="/ping">p</a>`)
	})
	mux.HandleFunc("/utf8", func(w http.ResponseWriter, r *http.Request) {
		html(w, "<p>\xff\xfe\xc3\x28 broken bytes</p><a href=\"/after-utf8\">\xe2\x28\xa1</a>")
	})
	mux.HandleFunc("/after-utf8", func(w http.ResponseWriter, r *http.Request) { html(w, "fine") })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<html><<a href="/after-broken"><div <p></td></table><a href='unterminated`)
	})
	mux.HandleFunc("/after-broken", func(w http.ResponseWriter, r *http.Request) { html(w, "fine") })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		chunk := bytes.Repeat([]byte("<p>filler</p>\n"), 4096)
		for sent := 0; sent < 50<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client stopped reading: expected
			}
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select { // headers never come
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) { html(w, "pong") })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", base+"/\n")
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0", "SPYDER_FRONTIER_MAX_RETRIES=0", "SPYDER_REQUEST_TIMEOUT=2",
		"SPYDER_FOLLOW_REDIRECTS=true", "SPYDER_MAX_REDIRECTS=5", "SPYDER_MAX_CONTENT_LENGTH=1000000")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
	waitClean(t, m, w)

	got := map[string]map[string]any{}
	for _, r := range readJSONL(t, dir+"/out.jsonl") {
		got[strings.TrimPrefix(r["url"].(string), base)] = r
	}
	status := func(path string) int {
		r, ok := got[path]
		if !ok {
			t.Errorf("%s: no result", path)
			return 0
		}
		return int(r["status"].(float64))
	}
	for _, path := range []string{"/", "/utf8", "/after-utf8", "/broken", "/after-broken", "/ping"} {
		if s := status(path); s != 200 {
			t.Errorf("%s: status %d, want 200", path, s)
		}
	}
	if s := status("/huge"); s != 200 || got["/huge"]["truncated"] != true || got["/huge"]["bytes"].(float64) != 1000000 {
		t.Errorf("/huge: %v, want 200, truncated at 1,000,000 bytes", got["/huge"])
	}
	if s := status("/hang"); s != 599 || !strings.Contains(got["/hang"]["error"].(string), "timeout") {
		t.Errorf("/hang: %v, want 599 with a timeout", got["/hang"])
	}
	if s := status("/loop"); s != 302 {
		t.Errorf("/loop: %v, want the last 302 after max_redirects", got["/loop"])
	}
}
