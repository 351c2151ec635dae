// e2e_cookies_test.go: a site's session cookie is sent back, by any
// worker, and kept across a restart of the master.

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// sessionSite sets a session cookie on / (and another on the redirect of
// /login) and answers /members/N only to requests that carry both: 403
// otherwise.
type sessionSite struct {
	mu       sync.Mutex
	statuses map[string]int
	srv      *httptest.Server
}

func startSessionSite(t *testing.T) *sessionSite {
	t.Helper()
	s := &sessionSite{statuses: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		defer func() {
			s.mu.Lock()
			s.statuses[r.URL.Path] = status
			s.mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/html")
		switch {
		case r.URL.Path == "/":
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3ss10n", Path: "/", HttpOnly: true})
			fmt.Fprint(w, `<a href="/login">login</a>`)
		case r.URL.Path == "/login":
			http.SetCookie(w, &http.Cookie{Name: "member", Value: "yes", Path: "/members", MaxAge: 3600})
			status = http.StatusFound
			http.Redirect(w, r, "/hub", status)
		case r.URL.Path == "/hub":
			fmt.Fprint(w, `<a href="/members/1">1</a><a href="/members/2">2</a><a href="/members/3">3</a>`)
		case strings.HasPrefix(r.URL.Path, "/members/"):
			sid, err1 := r.Cookie("sid")
			member, err2 := r.Cookie("member")
			if err1 != nil || err2 != nil || sid.Value != "s3ss10n" || member.Value != "yes" {
				status = http.StatusForbidden
				w.WriteHeader(status)
				return
			}
			fmt.Fprint(w, "<p>members only</p>")
		default:
			status = http.StatusNotFound
			http.NotFound(w, r)
		}
	})}}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sessionSite) status(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statuses[path]
}

// TestCookieSessions: the first run fetches / and /login (stop_after_pages
// 2, one fetch at a time), which set the session; the master stops; the
// second run, a new master and a new worker, fetches the members' pages with
// the session kept in the crawl state. With cookies off, they are refused.
func TestCookieSessions(t *testing.T) {
	for _, cookies := range []bool{true, false} {
		t.Run(fmt.Sprintf("cookies=%v", cookies), func(t *testing.T) {
			site := startSessionSite(t)
			dir := t.TempDir()
			seeds := writeFile(t, dir, "seeds.txt", site.srv.URL+"/")
			c := newCluster(t, "SPYDER_OBEY_ROBOTS_TXT=false", "SPYDER_MAX_CLIENTS=1", "SPYDER_MASTER_INFLIGHT_PER_WORKER=1",
				fmt.Sprintf("SPYDER_COOKIES=%v", cookies), "SPYDER_FOLLOW_REDIRECTS=false")
			first := append(append([]string{}, c.Env...), "SPYDER_STOP_AFTER_PAGES=2")
			w := start(t, "worker", first, "worker")
			m := start(t, "master", first, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
			waitClean(t, m, w)
			if site.status("/login") != http.StatusFound || site.status("/members/1") != 0 {
				t.Fatalf("the first run: %v", site.statuses)
			}
			// (One worker: a second one could register after this short
			// crawl ended, and wait for a master that is gone.)
			w = start(t, "worker", c.Env, "worker")
			m = start(t, "master", c.Env, "master", "--until-done", "--out", dir+"/out.jsonl")
			waitClean(t, m, w)
			want := map[bool]int{true: http.StatusOK, false: http.StatusForbidden}[cookies]
			for i := 1; i <= 3; i++ {
				if got := site.status(fmt.Sprintf("/members/%d", i)); got != want {
					t.Errorf("/members/%d: %d, want %d", i, got, want)
				}
			}
		})
	}
}
