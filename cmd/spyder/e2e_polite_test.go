// e2e_polite_test.go: politeness audited from the server's log; revisits backing off on 304.

package main

import (
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// TestPolitenessAudit crawls five hosts with multiple_host, a 200 ms delay
// and four workers, and audits the servers' own logs: per politeness group
// (a host, or with ip_based every host on one IP address), no two request
// arrivals closer than the delay. The cases also run the hosts through
// fewer active slots than hosts with a small budget (rotation), and group
// them by IP through static DNS mappings on the master.
func TestPolitenessAudit(t *testing.T) {
	hosts := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}
	for _, tc := range []struct {
		name      string
		env       []string
		masterEnv []string                 // for the master only
		group     func(host string) string // politeness group of a host in the server log
	}{
		{name: "host_based", group: func(h string) string { return h }},
		{
			name:  "two_slots_budget_3",
			env:   []string{"SPYDER_FRONTIER_ACTIVE_QUEUES=2", "SPYDER_FRONTIER_QUEUE_BUDGET=3"},
			group: func(h string) string { return h },
		},
		{
			name: "ip_based",
			env:  []string{"SPYDER_QUEUE_ASSIGNMENT_CLASS=ip_based"},
			// The workers must reach the real addresses: only the master
			// believes two pairs of hosts share an address.
			masterEnv: []string{`SPYDER_STATIC_DNS_MAPPINGS=["127.0.0.2=10.0.0.1", "127.0.0.3=10.0.0.1", "127.0.0.4=10.0.0.2", "127.0.0.5=10.0.0.2"]`},
			group: func(h string) string {
				switch {
				case strings.HasPrefix(h, "127.0.0.2:"), strings.HasPrefix(h, "127.0.0.3:"):
					return "10.0.0.1"
				case strings.HasPrefix(h, "127.0.0.4:"), strings.HasPrefix(h, "127.0.0.5:"):
					return "10.0.0.2"
				}
				return h
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := startSiteOn(t, hosts, 6, 0)
			dir := t.TempDir()
			seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
			const delay = 200 * time.Millisecond
			c := newCluster(t, append([]string{"SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_FRONTIER_MIN_DELAY=0.2"}, tc.env...)...)
			var workers []*proc
			for _, name := range []string{"w1", "w2", "w3", "w4"} {
				workers = append(workers, start(t, name, c.Env, "worker"))
			}
			m := start(t, "master", append(slices.Clone(c.Env), tc.masterEnv...), "master", "--until-done", "--seeds", seeds, "--out", dir+"/out.jsonl")
			waitClean(t, m, workers...)
			checkCrawl(t, site, dir+"/out.jsonl")

			auditPoliteness(t, site, len(hosts), delay, tc.group)
		})
	}
}

// auditPoliteness checks the site's own log: requests reached every one of
// hosts, and per politeness group no two arrivals are closer than delay
// (with ten requests or more per group, so that the audit means something).
func auditPoliteness(t *testing.T, site *testsite.Site, hosts int, delay time.Duration, group func(host string) string) {
	t.Helper()
	byGroup := map[string][]time.Time{}
	hostsSeen := map[string]bool{}
	for _, r := range site.Log() {
		hostsSeen[r.Host] = true
		byGroup[group(r.Host)] = append(byGroup[group(r.Host)], r.At)
	}
	if len(hostsSeen) != hosts {
		t.Fatalf("requests reached %d hosts, want %d", len(hostsSeen), hosts)
	}
	for g, times := range byGroup {
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		least := time.Duration(1 << 62)
		for i := 1; i < len(times); i++ {
			gap := times[i].Sub(times[i-1])
			least = min(least, gap)
			if gap < delay {
				t.Errorf("%s: two requests %v apart (delay %v)", g, gap, delay)
			}
		}
		if len(times) < 10 {
			t.Errorf("%s: only %d requests; the audit needs more", g, len(times))
		}
		t.Logf("%s: %d requests, closest two %v apart", g, len(times), least)
	}
}

// TestRevisitBacksOffOn304: with a 1 s crawl delta, a page is fetched,
// revisited after 1 s with its ETag (conditional GET, answered 304), and
// then revisited only after 2 s: each 304 raises the interval.
func TestRevisitBacksOffOn304(t *testing.T) {
	site := startSiteOn(t, []string{"127.0.0.2"}, 2, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_PRIORITIZER_CRAWL_DELTA=1")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds, "--out", dir+"/out.jsonl")
	seed := site.Seeds()[0]
	deadline := time.Now().Add(20 * time.Second)
	var visits []testsite.Request
	for time.Now().Before(deadline) {
		visits = visits[:0]
		for _, r := range site.Log() {
			if "http://"+r.Host+r.Path == seed {
				visits = append(visits, r)
			}
		}
		if len(visits) >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w)
	if len(visits) < 3 {
		t.Fatalf("%d visits of the seed, want 3", len(visits))
	}
	if visits[0].Status != 200 || visits[0].IfNoneMatch != "" {
		t.Fatalf("first visit: %+v", visits[0])
	}
	for _, v := range visits[1:3] {
		if v.IfNoneMatch == "" || v.Status != 304 {
			t.Fatalf("revisit without the stored validator, or not a 304: %+v", v)
		}
	}
	first, second := visits[1].At.Sub(visits[0].At), visits[2].At.Sub(visits[1].At)
	if first < 900*time.Millisecond || first > 1800*time.Millisecond {
		t.Errorf("first revisit after %v, want about 1s", first)
	}
	if second < 1900*time.Millisecond || second > 2900*time.Millisecond {
		t.Errorf("second revisit after %v, want about 2s (level 2 after a 304)", second)
	}
}
