// e2e_metrics_test.go: the Prometheus metrics agree with the output.

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/mgmt"
)

// scrape reads a /metrics page into "name{labels}" -> value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scraping %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scraping %s: %d %s", addr, resp.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sumOf adds the values of every series of metric name.
func sumOf(m map[string]float64, name string) float64 {
	total := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}

func metricsAddr(t *testing.T, p *proc) string {
	t.Helper()
	e := p.WaitFor(t, "metrics", 20*time.Second, event("metrics"))
	return e["addr"].(string)
}

// TestMetricsMatchTheOutput scrapes master and workers during a crawl
// and at its end: the master's results by status class, and the workers'
// results together, equal what the JSONL output holds.
func TestMetricsMatchTheOutput(t *testing.T) {
	site := startSite(t, 20, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_METRICS_LISTEN=127.0.0.1:0", "SPYDER_FRONTIER_MIN_DELAY=0.05")
	w1, w2 := start(t, "w1", c.Env, "worker"), start(t, "w2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds, "--out", out)
	maddr, waddrs := metricsAddr(t, m), []string{metricsAddr(t, w1), metricsAddr(t, w2)}

	// During the crawl.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mm := scrape(t, maddr)
		if sumOf(mm, "spyder_master_results_total") > 0 && mm["spyder_frontier_urls{state=\"queued\"}"] > 0 && mm["spyder_master_workers_live"] == 2 {
			for _, name := range []string{"spyder_master_dispatched_total", "spyder_master_workers_live", "spyder_frontier_host_queues{state=\"active\"}", "spyder_frontier_host_queues{state=\"blocked\"}",
				"spyder_master_fetch_duration_seconds_count", "spyder_master_store_commit_duration_seconds_count", "go_goroutines"} {
				if _, ok := mm[name]; !ok {
					t.Errorf("master metrics lack %s", name)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no results in the metrics: %v", mm)
		}
		time.Sleep(50 * time.Millisecond)
	}

	waitStatus(t, c, "the crawl to finish", 60*time.Second, func(s mgmt.Status) bool { return s.Queued == 0 && s.InFlight == 0 && s.Results > 0 })
	byClass := map[string]float64{}
	records := readJSONL(t, out)
	for _, r := range records {
		byClass[crawluri.StatusClassName(int16(r["status"].(float64)))]++
	}
	// The snapshot behind the master's metrics is at most 100 ms old.
	var mm map[string]float64
	for deadline := time.Now().Add(5 * time.Second); ; {
		mm = scrape(t, maddr)
		if sumOf(mm, "spyder_master_results_total") == float64(len(records)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for class, n := range byClass {
		if got := mm[fmt.Sprintf("spyder_master_results_total{class=%q}", class)]; got != n {
			t.Errorf("results of class %s: metrics %v, JSONL %v", class, got, n)
		}
	}
	if got := sumOf(mm, "spyder_master_results_total"); got != float64(len(records)) {
		t.Errorf("master results %v, JSONL %d", got, len(records))
	}
	if got := mm["spyder_master_dispatched_total"]; got < float64(len(records)) {
		t.Errorf("dispatched %v < %d results", got, len(records))
	}
	if got := mm["spyder_master_fetch_duration_seconds_count"]; got != float64(len(records)) {
		t.Errorf("fetch latency observations %v, want %d", got, len(records))
	}
	if mm["spyder_frontier_urls{state=\"queued\"}"] != 0 || mm["spyder_frontier_urls{state=\"in_flight\"}"] != 0 {
		t.Errorf("frontier gauges at the end: queued %v, in flight %v", mm["spyder_frontier_urls{state=\"queued\"}"], mm["spyder_frontier_urls{state=\"in_flight\"}"])
	}
	workerResults := 0.0
	for _, a := range waddrs {
		wm := scrape(t, a)
		workerResults += sumOf(wm, "spyder_worker_results_total")
		if wm["spyder_worker_fetch_duration_seconds_count"] != sumOf(wm, "spyder_worker_results_total") {
			t.Errorf("worker %s: latency observations %v, results %v", a, wm["spyder_worker_fetch_duration_seconds_count"], sumOf(wm, "spyder_worker_results_total"))
		}
	}
	if workerResults != float64(len(records)) {
		t.Errorf("workers sent %v results, JSONL has %d", workerResults, len(records))
	}
	ctl(t, c, "stop")
	waitClean(t, m, w1, w2)
	checkCrawl(t, site, out)
}
