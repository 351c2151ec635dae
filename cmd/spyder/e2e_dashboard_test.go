// e2e_dashboard_test.go: the crawl dashboard in a real browser (headless
// Chromium driven by chromedp).

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spyder-crawl/spyder/internal/redistest"
	"github.com/spyder-crawl/spyder/master"
)

// browser opens headless Chromium (Debian's chromium, which .ci/run
// installs) for the test; it is closed, and its processes stopped, when
// the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found: install Debian's chromium (.ci/run does): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1100), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// do runs browser actions with a deadline.
func do(t *testing.T, ctx context.Context, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// eval is the value of a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// pageText is the text of the element sel (a CSS selector).
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(eval[string](t, ctx, `document.querySelector(`+strconv.Quote(sel)+`).textContent`))
}

// TestDashboardInABrowser: a master with the dashboard's actions on crawls
// a site with two workers; headless Chromium opens the dashboard, which
// draws its charts and shows what `spyder status --json` says; the pause
// button without the token is refused and changes nothing, with it pauses
// the crawl; a script's request without the token is refused too.
func TestDashboardInABrowser(t *testing.T) {
	site := startSite(t, 300, 10*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_METRICS_LISTEN=127.0.0.1:0", "SPYDER_DASHBOARD_ACTIONS=true", "SPYDER_FRONTIER_MIN_DELAY=0.02",
		"SPYDER_FRONTIER_CLASS=multiple_host")
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds)
	addr := metricsAddr(t, m)
	token := m.WaitFor(t, "dashboard token", 10*time.Second, event("dashboard.token"))["token"].(string)

	// A script without the token is refused.
	resp, err := http.Post("http://"+addr+"/api/control", "application/json", strings.NewReader(`{"verb":"pause"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pause without a token: HTTP %d, want 401", resp.StatusCode)
	}

	ctx := browser(t)
	// (The first action starts the browser: no deadline on it.)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, 20*time.Second, chromedp.WaitVisible(chromedp.CSS("#actions")))
	// The charts draw once the history has three rows (two rates), 4 s in.
	waitUntil(t, 30*time.Second, "the pages chart drew two points or more", func() bool {
		points, _ := strconv.Atoi(eval[string](t, ctx, `document.querySelector("#chart-pages").dataset.points || "0"`))
		return points >= 2
	})
	if lines := eval[int](t, ctx, `document.querySelectorAll("#chart-classes polyline.series").length`); lines != 5 {
		t.Errorf("the status-class chart has %d lines, want 5", lines)
	}
	if got := pageText(t, ctx, "#workers tbody"); !strings.Contains(got, "worker:") {
		t.Errorf("workers table: %q", got)
	}

	// The pause button without the token is refused, and the crawl runs on.
	do(t, ctx, 10*time.Second, chromedp.Click(chromedp.CSS(`button[data-verb="pause"]`)))
	waitUntil(t, 10*time.Second, "the refusal shown", func() bool {
		return strings.Contains(pageText(t, ctx, "#action-result"), "refused")
	})
	if st := ctlStatus(t, c); st.State != "running" {
		t.Fatalf("after a pause without the token the master is %s", st.State)
	}
	// With the token it pauses.
	do(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS(`button[data-verb="pause"]`)))
	waitUntil(t, 10*time.Second, "the master paused", func() bool { return ctlStatus(t, c).State == "paused" })
	waitUntil(t, 10*time.Second, "the page shows the pause", func() bool { return pageText(t, ctx, "#state") == "paused" })

	// Paused, with nothing in flight, the counts hold still: the page
	// shows what spyder status --json says.
	waitUntil(t, 20*time.Second, "the page's counts equal spyder status's", func() bool {
		st := ctlStatus(t, c)
		if st.InFlight != 0 {
			return false
		}
		for sel, want := range map[string]int64{"#count-done b": st.Done, "#count-queued b": st.Queued, "#count-seen b": st.Seen, "#count-failed b": st.Failed} {
			if got := pageText(t, ctx, sel); got != strconv.FormatInt(want, 10) {
				return false
			}
		}
		return true
	})

	// The busiest host, blocked from the page, is listed as held.
	waitUntil(t, 10*time.Second, "a busiest host listed", func() bool {
		return strings.HasPrefix(pageText(t, ctx, "#busiest tbody td"), "127.0.0.")
	})
	host := pageText(t, ctx, "#busiest tbody td")
	do(t, ctx, 10*time.Second, chromedp.SendKeys(chromedp.CSS("#host"), host), chromedp.SendKeys(chromedp.CSS("#block"), "10"),
		chromedp.Click(chromedp.CSS(`button[data-verb="host"]`)))
	waitUntil(t, 15*time.Second, host+" listed as held by an operator block", func() bool {
		held := pageText(t, ctx, "#held tbody")
		return strings.Contains(held, host) && strings.Contains(held, "operator block")
	})

	// The JSON the page reads, as a script sees it.
	resp, err = http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var ds master.DashboardStatus
	err = json.NewDecoder(resp.Body).Decode(&ds)
	resp.Body.Close()
	if err != nil || ds.Status == nil || len(ds.History.Rows) < 3 || !ds.Actions || len(ds.Busiest) == 0 && ds.Status.Queued > 0 {
		t.Fatalf("/api/status: %v %+v", err, ds)
	}
	if path := os.Getenv("DASHBOARD_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w1, w2)
}

// dashStatus reads /api/status of the dashboard at addr (its status is
// nil until the master's loop first published one).
func dashStatus(t *testing.T, addr string) master.DashboardStatus {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ds master.DashboardStatus
	if err := json.NewDecoder(resp.Body).Decode(&ds); err != nil {
		t.Fatalf("/api/status of %s: %v %+v", addr, err, ds)
	}
	return ds
}

// TestDashboardOnRedis: two masters of a crawl on a Redis Cluster each
// serve the dashboard, and each lists the crawl's busiest hosts (the whole
// crawl's, as its counts are). A host blocked through one master's page
// (with its token) is listed as held by an operator block on both, and
// is not fetched while it is blocked.
func TestDashboardOnRedis(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site := startSiteOn(t, fiveHosts, 60, 5*time.Millisecond)
	sc := newSharedCrawl(t, rc, site, 2, "SPYDER_METRICS_LISTEN=127.0.0.1:0", "SPYDER_DASHBOARD_ACTIONS=true",
		"SPYDER_FRONTIER_MIN_DELAY=0.3")
	workers := sc.workers(t, 0, 1)
	m1 := sc.master(t, "master1", 0)
	m2 := sc.master(t, "master2", 1)
	addrs := []string{metricsAddr(t, m1), metricsAddr(t, m2)}
	token := m1.WaitFor(t, "dashboard token", 10*time.Second, event("dashboard.token"))["token"].(string)

	var host string
	waitUntil(t, 20*time.Second, "both masters list the busiest hosts", func() bool {
		for _, addr := range addrs {
			ds := dashStatus(t, addr)
			if len(ds.Busiest) < 3 || ds.Busiest[0].Queued < 2 {
				return false
			}
			host = ds.Busiest[0].Name
		}
		return true
	})

	blockUntil := time.Now().Add(time.Minute)
	body := `{"verb":"host","host":"` + host + `","block_until":"` + blockUntil.Format(time.RFC3339) + `"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addrs[0]+"/api/control", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("blocking %s: HTTP %d", host, resp.StatusCode)
	}
	blocked := time.Now()
	waitUntil(t, 20*time.Second, host+" listed as held by an operator block on both masters", func() bool {
		for _, addr := range addrs {
			ds := dashStatus(t, addr)
			listed := false
			for _, h := range ds.Held {
				listed = listed || h.Name == host && h.Held == "operator block" && h.Queued > 0 &&
					h.NextAllowed.After(blockUntil.Add(-2*time.Second))
			}
			if !listed {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // (a fetch in flight at the block may end)
	late := 0
	for _, e := range site.Log() {
		if e.Host == host && e.At.After(blocked.Add(time.Second)) {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d requests to %s after it was blocked", late, host)
	}
	// (Workers of a shared crawl outlive its masters: they are stopped
	// too.)
	for _, p := range append([]*proc{m1, m2}, workers...) {
		p.Signal(syscall.SIGTERM)
	}
	waitClean(t, m1, append([]*proc{m2}, workers...)...)
}
