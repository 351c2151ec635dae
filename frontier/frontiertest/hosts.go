// Package frontiertest holds checks that every frontier store must pass,
// run by each store's tests on its own store.
package frontiertest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// HostLists checks a store's frontier.HostLister on f (a new crawl with
// no politeness delay and a MaxRetryAfter of a minute or more, whose
// results are applied when Done returns). It queues 5 URLs of a.test, 3
// of b.test, 2 of d.test and 1 of c.test; leaves a.test's first in
// flight, answers b.test's and c.test's with 200 and d.test's with a 503
// and Retry-After: 30, then blocks b.test for an hour. Then a.test has 4
// queued (one in flight), b.test 2 (blocked), d.test 2 (the retry and
// the other, held), c.test none. A store that lists in the background
// may answer with nothing at first: the check asks again for up to wait.
func HostLists(t *testing.T, f frontier.Frontier, wait time.Duration) {
	t.Helper()
	l, ok := frontier.Hosts(f)
	if !ok {
		t.Fatal("the store lists no hosts (frontier.HostLister)")
	}
	var seeds []string
	for host, n := range map[string]int{"a.test": 5, "b.test": 3, "c.test": 1, "d.test": 2} {
		for i := range n {
			seeds = append(seeds, fmt.Sprintf("http://%s/%d", host, i))
		}
	}
	start := time.Now()
	if _, err := f.AddSeeds(seeds, start); err != nil {
		t.Fatal(err)
	}
	var first []*crawluri.CrawlUri
	for len(first) < 4 && time.Since(start) < wait {
		got, err := f.Next(time.Now(), 4-len(first))
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, got...)
		time.Sleep(5 * time.Millisecond)
	}
	if len(first) != 4 {
		t.Fatalf("%d URLs dispatched, want one of each of the 4 hosts", len(first))
	}
	for _, c := range first {
		res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200, ReqTime: 0.001}
		switch urlx.Host(c.URL) {
		case "a.test":
			continue // in flight
		case "d.test":
			res.StatusCode, res.RepHeader = 503, map[string]string{"Retry-After": "30"}
		}
		if _, err := f.Done(res, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := f.BlockHost("b.test", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}

	type row struct {
		name   string
		queued int64
		held   string
	}
	rows := func(rs []frontier.HostReport) []row {
		var out []row
		for _, r := range rs {
			out = append(out, row{r.Name, r.Queued, r.Held})
		}
		return out
	}
	const block, retry = "operator block", "Retry-After or robots.txt retry"
	for _, tc := range []struct {
		n             int
		busiest, held []row
	}{
		{10, []row{{"a.test", 4, ""}, {"b.test", 2, block}, {"d.test", 2, retry}}, []row{{"b.test", 2, block}, {"d.test", 2, retry}}},
		{1, []row{{"a.test", 4, ""}}, []row{{"b.test", 2, block}}},
	} {
		var busiest, held []frontier.HostReport
		for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if busiest, held, err = l.BusiestHosts(tc.n, time.Now()); err != nil {
				t.Fatal(err)
			}
			if len(busiest) > 0 || time.Now().After(deadline) {
				break
			}
		}
		if got := rows(busiest); fmt.Sprint(got) != fmt.Sprint(tc.busiest) {
			t.Errorf("n=%d: busiest %v, want %v", tc.n, got, tc.busiest)
		}
		if got := rows(held); fmt.Sprint(got) != fmt.Sprint(tc.held) {
			t.Errorf("n=%d: held %v, want %v", tc.n, got, tc.held)
		}
		for _, r := range append(busiest, held...) {
			switch {
			case r.Name == "b.test" && (r.NextAllowed.Before(now.Add(59*time.Minute)) || r.NextAllowed.After(now.Add(61*time.Minute))):
				t.Errorf("b.test (blocked for an hour) next allowed at %v, %v from the block", r.NextAllowed, r.NextAllowed.Sub(now))
			case r.Name == "a.test" && !r.NextAllowed.IsZero() && r.NextAllowed.After(time.Now().Add(time.Minute)):
				t.Errorf("a.test next allowed at %v; nothing holds it", r.NextAllowed)
			}
		}
		if !sort.SliceIsSorted(held, func(i, j int) bool { return held[i].Name < held[j].Name }) {
			t.Errorf("held not by name: %v", rows(held))
		}
	}
}
