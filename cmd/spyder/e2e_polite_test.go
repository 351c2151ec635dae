package main

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// TestPolitenessAudit crawls five hosts with multiple_host, a 200 ms delay
// and four workers, and audits the servers' own logs: per host, no two
// request arrivals closer than the delay.
func TestPolitenessAudit(t *testing.T) {
	site, err := testsite.Start(testsite.Options{
		IPs:       []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"},
		OffsiteIP: "127.0.0.9",
		Pages:     6,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	const delay = 200 * time.Millisecond
	c := newCluster(t, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_FRONTIER_MIN_DELAY=0.2")
	var workers []*proc
	for _, name := range []string{"w1", "w2", "w3", "w4"} {
		workers = append(workers, start(t, name, c.env, "worker"))
	}
	m := start(t, "master", c.env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
	waitClean(t, m, workers...)
	checkCrawl(t, site, dir+"/out.jsonl")

	byHost := map[string][]time.Time{}
	for _, r := range site.Log() {
		byHost[r.Host] = append(byHost[r.Host], r.At)
	}
	if len(byHost) != 5 {
		t.Fatalf("requests reached %d hosts, want 5", len(byHost))
	}
	for host, times := range byHost {
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < delay {
				t.Errorf("%s: two requests %v apart (delay %v)", host, gap, delay)
			}
		}
		if len(times) < 10 {
			t.Errorf("%s: only %d requests; the audit needs more", host, len(times))
		}
	}
}
