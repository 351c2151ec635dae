// slots_test.go: multiple_host's active queues, budgets, selectors and IP-based groups.

package frontier

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/urlx"
)

func init() {
	// A deterministic selector for tests: always the oldest waiting group.
	RegisterSelector("test_oldest", func(int) int { return 0 })
}

func result(c *crawluri.CrawlUri, status int) *crawluri.CrawlUri {
	return &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: int16(status)}
}

func hostsOf(b []*crawluri.CrawlUri) []string {
	var hs []string
	for _, c := range b {
		hs = append(hs, urlx.Host(c.URL))
	}
	slices.Sort(hs)
	return hs
}

// TestQueueBudgetRotation ports spyder's test_multiple_frontier: with one
// active queue, a budget of 4 and a punishment of 5, the first queue starts
// with 4, a 500 takes it to -1 and rotates the other queue in with 4, and a
// 200 takes that one to 3.
func TestQueueBudgetRotation(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{ActiveQueues: 1, QueueBudget: 4, QueueBudgetPunish: 5, QueueSelector: "test_oldest"})
	f.Add([]string{"http://localhost/1", "http://localhost/2", "http://www.google.com/1"}, now)
	if n := len(groupsByKey(f)); n != 2 {
		t.Fatalf("%d queues, want one per host", n)
	}
	b, _ := f.Next(now, 10)
	if len(b) != 1 || urlx.Host(b[0].URL) != "localhost" {
		t.Fatalf("one active queue, the oldest, hands out one URL: %v", b)
	}
	first := groupsByKey(f)["localhost"]
	if !first.active || first.budget != 4 {
		t.Fatalf("first queue active %v with budget %d, want 4", first.active, first.budget)
	}
	f.Done(result(b[0], 500), nil, now)
	if first.budget != -1 || first.active {
		t.Fatalf("after a 500: budget %d (want -1), active %v (want rotated out)", first.budget, first.active)
	}
	b, _ = f.Next(now, 10)
	second := groupsByKey(f)["www.google.com"]
	if len(b) != 1 || urlx.Host(b[0].URL) != "www.google.com" || !second.active || second.budget != 4 {
		t.Fatalf("rotation: %v, active %v, budget %d", b, second.active, second.budget)
	}
	f.Done(result(b[0], 200), nil, now)
	if second.budget != 3 {
		t.Fatalf("after a 200: budget %d, want 3", second.budget)
	}
	// The second queue is empty now: its slot goes back to the first, with
	// a fresh budget.
	b, _ = f.Next(now, 10)
	if len(b) != 1 || urlx.Host(b[0].URL) != "localhost" || first.budget != 4 || second.active {
		t.Fatalf("empty queue not retired: %v, first budget %d, second active %v", b, first.budget, second.active)
	}
}

// TestActiveQueuesBoundAndRotate crawls 10 hosts through 3 slots with a
// budget of 2: never more than 3 hosts in flight, no host served more than
// its budget in a row while others wait, every URL handed out once.
func TestActiveQueuesBoundAndRotate(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{ActiveQueues: 3, QueueBudget: 2, QueueBudgetPunish: 5})
	var urls []string
	for h := range 10 {
		for p := range 5 {
			urls = append(urls, fmt.Sprintf("http://h%d.test/%d", h, p))
		}
	}
	f.Add(urls, now)
	seen := map[string]bool{}
	run := map[string]int{} // results in a row per host, reset when it leaves
	for round := 0; len(seen) < len(urls); round++ {
		if round > 1000 {
			t.Fatalf("stuck after %d URLs", len(seen))
		}
		b, err := f.Next(now, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 || len(b) > 3 {
			t.Fatalf("round %d: %d URLs in flight (%v), want 1..3", round, len(b), hostsOf(b))
		}
		if hs := hostsOf(b); len(slices.Compact(hs)) != len(b) {
			t.Fatalf("two URLs of one host in flight: %v", hs)
		}
		for _, c := range b {
			if seen[c.URL] {
				t.Fatalf("%s handed out twice", c.URL)
			}
			seen[c.URL] = true
			h := urlx.Host(c.URL)
			run[h]++
			if run[h] > 2 {
				t.Fatalf("%s served %d times in a row with a budget of 2", h, run[h])
			}
			f.Done(result(c, 200), nil, now)
		}
		for h := range run {
			if g := groupsByKey(f)[h]; !g.active {
				delete(run, h)
			}
		}
		if f.active > 3 {
			t.Fatalf("%d active queues, want at most 3", f.active)
		}
	}
	if st := f.Stats(); st.Done != int64(len(urls)) || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSlotNotHeldByWaitingQueue: a queue whose only URL waits for a retry
// gives its slot up, and takes one again when the retry is due.
func TestSlotNotHeldByWaitingQueue(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{ActiveQueues: 1, QueueBudget: 50, QueueBudgetPunish: 5, MaxRetries: 1, RetryBackoff: time.Minute, QueueSelector: "test_oldest"})
	f.Add([]string{"http://a.test/", "http://b.test/1", "http://b.test/2"}, now)
	b, _ := f.Next(now, 10)
	if len(b) != 1 || urlx.Host(b[0].URL) != "a.test" {
		t.Fatalf("%v", b)
	}
	f.Done(result(b[0], 503), nil, now)
	b, _ = f.Next(now, 10)
	if len(b) != 1 || urlx.Host(b[0].URL) != "b.test" {
		t.Fatalf("the slot stayed with a queue that has nothing due: %v", b)
	}
	f.Done(result(b[0], 200), nil, now)
	later := now.Add(2 * time.Minute)
	if due := f.NextDue(later); due.After(later) {
		t.Fatalf("NextDue %v", due)
	}
	var got []string
	for range 3 {
		b, _ = f.Next(later, 10)
		for _, c := range b {
			got = append(got, c.URL)
			f.Done(result(c, 200), nil, later)
		}
		later = later.Add(time.Hour)
	}
	slices.Sort(got)
	if want := []string{"http://a.test/", "http://b.test/2"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestBiasedSelector checks the selector's distribution against spyder's
// weights, P(rank i) proportional to 1/i.
func TestBiasedSelector(t *testing.T) {
	for _, n := range []int{1, 2, 5, 50} {
		const draws = 200000
		counts := make([]int, n)
		for range draws {
			i := BiasedSelect(n)
			if i < 0 || i >= n {
				t.Fatalf("n=%d: rank %d out of range", n, i)
			}
			counts[i]++
		}
		h := 0.0
		for i := 1; i <= n; i++ {
			h += 1 / float64(i)
		}
		for i, c := range counts {
			want := 1 / (float64(i+1) * h)
			if got := float64(c) / draws; got < want-0.01 || got > want+0.01 {
				t.Errorf("n=%d rank %d: frequency %.4f, want %.4f", n, i, got, want)
			}
		}
	}
}

// TestRankSet checks the order-statistic set against a sorted slice.
func TestRankSet(t *testing.T) {
	var s rankSet
	in := map[uint64]*group{}
	for step := range 5000 {
		ord := uint64(rand.IntN(3000))
		if g, ok := in[ord]; ok {
			s.remove(g)
			delete(in, ord)
		} else {
			g := new(group).init(ord)
			s.insert(g)
			in[ord] = g
		}
		if step%97 != 0 {
			continue
		}
		var want []uint64
		for o := range in {
			want = append(want, o)
		}
		slices.Sort(want)
		if s.n != len(want) {
			t.Fatalf("size %d, want %d", s.n, len(want))
		}
		for k, o := range want {
			if got := s.at(k).ordinal; got != o {
				t.Fatalf("rank %d: ordinal %d, want %d", k, got, o)
			}
		}
	}
}

// fakeResolver answers from a table, later and from another goroutine.
type fakeResolver struct {
	ips     map[string]string
	mu      sync.Mutex
	release chan struct{}
	asked   []string
}

func (r *fakeResolver) LookupAsync(host string, done func(string, error)) {
	r.mu.Lock()
	r.asked = append(r.asked, host)
	r.mu.Unlock()
	go func() {
		<-r.release
		if ip, ok := r.ips[host]; ok {
			done(ip, nil)
		} else {
			done("", errors.New("no such host"))
		}
	}()
}

// TestIPBasedAssignment: hosts on one IP share a politeness group (one URL
// in flight, one clock); a host that does not resolve gets its own group;
// nothing is handed out before the lookups answer, and the answers wake the
// owner's loop.
func TestIPBasedAssignment(t *testing.T) {
	now := time.Now()
	res := &fakeResolver{ips: map[string]string{"a.test": "10.0.0.1", "b.test": "10.0.0.1", "c.test": "10.0.0.2"}, release: make(chan struct{})}
	woken := make(chan struct{}, 10)
	f := open(t, "multiple_host", Options{
		QueueAssignment: "ip_based", Resolver: res, MinDelay: time.Second,
		Wake: func() { woken <- struct{}{} },
	})
	f.Add([]string{"http://a.test/1", "http://a.test/2", "http://b.test/1", "http://c.test/1", "http://d.test/1"}, now)
	if b, _ := f.Next(now, 10); len(b) != 0 {
		t.Fatalf("handed out before the hosts were resolved: %v", b)
	}
	close(res.release)
	for range 4 {
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatal("the resolver's answers did not wake the loop")
		}
	}
	b, _ := f.Next(now, 10)
	if len(b) != 3 || hostsOf(b)[2] != "d.test" || hostsOf(b)[1] != "c.test" {
		t.Fatalf("want one URL per IP (10.0.0.1, 10.0.0.2) and one for the unresolved d.test: %v", hostsOf(b))
	}
	var shared *crawluri.CrawlUri
	for _, c := range b {
		if h := urlx.Host(c.URL); h == "a.test" || h == "b.test" {
			shared = c
		}
	}
	f.Done(result(shared, 200), nil, now)
	if more, _ := f.Next(now.Add(999*time.Millisecond), 10); len(more) != 0 {
		t.Fatalf("a host on the same IP before the IP's delay: %v", more)
	}
	if more, _ := f.Next(now.Add(time.Second), 10); len(more) != 1 {
		t.Fatalf("after the delay, one URL of 10.0.0.1: %v", more)
	}
}

// TestQueueOrdinalsSurviveRestart: the selector's notion of older queues
// is kept in the store.
func TestQueueOrdinalsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	opts := Options{Dir: dir, ActiveQueues: 1, QueueBudget: 10}
	f, err := Open("multiple_host", opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Add([]string{"http://z.test/", "http://a.test/", "http://m.test/"}, now)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g := open(t, "multiple_host", opts)
	for host, want := range map[string]uint64{"z.test": 0, "a.test": 1, "m.test": 2} {
		if got := groupsByKey(g)[host].ordinal; got != want {
			t.Errorf("%s: ordinal %d, want %d", host, got, want)
		}
	}
	g.Add([]string{"http://new.test/"}, now)
	if got := groupsByKey(g)["new.test"].ordinal; got != 3 {
		t.Errorf("new queue after restart: ordinal %d, want 3", got)
	}
}

// TestQueueAssignment ports spyder's test_queue_assignment: host-based
// assignment names the host; IP-based, the host's address.
func TestQueueAssignment(t *testing.T) {
	now := time.Now()
	f := open(t, "multiple_host", Options{})
	f.Add([]string{"http://www.google.com/pille/palle"}, now)
	if _, ok := groupsByKey(f)["www.google.com"]; !ok || len(groupsByKey(f)) != 1 {
		t.Fatalf("host-based groups: %v", groupsByKey(f))
	}
	dns := dnscache.New(dnscache.Options{})
	defer dns.Close()
	woken := make(chan struct{}, 1)
	g := open(t, "multiple_host", Options{QueueAssignment: "ip_based", Resolver: dns, Wake: func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	}})
	g.Add([]string{"http://localhost:12345/this"}, now)
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("localhost was not resolved")
	}
	g.Next(now, 1)
	if _, ok := groupsByKey(g)["ip 127.0.0.1"]; !ok {
		t.Fatalf("IP-based groups: %v", groupsByKey(g))
	}
}

// TestSelectorMonotone ports spyder's test_queue_selector: over 100,000
// draws among 10 queues, each rank is drawn more often than the next.
func TestSelectorMonotone(t *testing.T) {
	var hist [10]int
	for range 100000 {
		hist[BiasedSelect(10)]++
	}
	for i := 0; i+1 < len(hist); i++ {
		if hist[i] <= hist[i+1] {
			t.Fatalf("histogram %v is not decreasing at rank %d", hist, i)
		}
	}
}

// TestCredentialsForTheFetcher ports the credential part of spyder's
// test_frontier: a URL with user and password hands them to the fetcher
// in optional_vars.
func TestCredentialsForTheFetcher(t *testing.T) {
	f := open(t, "single_host", Options{})
	f.Add([]string{"http://user:secret@a.test/private", "http://b.test/public"}, time.Now())
	b, _ := f.Next(time.Now(), 10)
	for _, c := range b {
		switch urlx.Host(c.URL) {
		case "a.test":
			if c.OptionalVars["username"] != "user" || c.OptionalVars["password"] != "secret" {
				t.Errorf("credentials: %v", c.OptionalVars)
			}
		default:
			if len(c.OptionalVars) != 0 {
				t.Errorf("optional vars without credentials: %v", c.OptionalVars)
			}
		}
	}
}

// groupsByKey maps every politeness group of f by its key: its queue's
// name with host-based assignment.
func groupsByKey(f *testFrontier) map[string]*group {
	if f.cfg.byIP {
		return maps.Clone(f.groups)
	}
	m := map[string]*group{}
	for _, q := range queueList(f) {
		m[q.name] = q.grp
	}
	return m
}

// TestMemberSet: one member needs no heap; a second makes one, which keeps
// the earliest head first through changes and removals.
func TestMemberSet(t *testing.T) {
	qs := make([]*queueState, 4)
	for i := range qs {
		qs[i] = &queueState{name: fmt.Sprint(i), headDue: int64(10 * (i + 1)), mIdx: -1}
	}
	var m memberSet
	if m.len() != 0 || m.first() != nil {
		t.Fatal("an empty set has members")
	}
	m.add(qs[2])
	if m.len() != 1 || m.first() != qs[2] || m.many != nil || qs[2].mIdx < 0 {
		t.Fatalf("one member: len %d, first %v, heap %v", m.len(), m.first(), m.many)
	}
	m.remove(qs[2])
	if m.len() != 0 || qs[2].mIdx != -1 {
		t.Fatal("the only member not removed")
	}
	for _, i := range []int{2, 1, 3} {
		m.add(qs[i])
	}
	if m.many == nil || m.len() != 3 || m.first() != qs[1] {
		t.Fatalf("three members: len %d, first %s", m.len(), m.first().name)
	}
	qs[3].headDue = 1
	m.moved(qs[3])
	if m.first() != qs[3] {
		t.Fatalf("first %s after queue 3's head moved earliest", m.first().name)
	}
	m.remove(qs[3])
	var names []string
	m.each(func(q *queueState) { names = append(names, q.name) })
	if m.first() != qs[1] || len(names) != 2 || qs[3].mIdx != -1 {
		t.Fatalf("after removing 3: first %s, members %v", m.first().name, names)
	}
}

// TestHeldGroups: holds count while they last and only for groups with
// URLs; the ones that ended are dropped, also as the map grows.
func TestHeldGroups(t *testing.T) {
	now := time.Unix(1000, 0)
	var h heldGroups
	gs := make([]group, 200)
	for i := range gs {
		gs[i].hasURLs = i%2 == 0
		h.hold(&gs[i], now.Add(time.Duration(i+1)*time.Second), now)
	}
	h.hold(&gs[0], now.Add(-time.Second), now) // ended already: no hold
	if gs[5].nextAllowed != now.Add(6*time.Second).UnixNano() {
		t.Fatalf("a hold did not move the clock: %d", gs[5].nextAllowed)
	}
	if n := h.count(now); n != 100 {
		t.Fatalf("%d held at the start, want 100 (those with URLs)", n)
	}
	later := now.Add(150 * time.Second)
	if n := h.count(later); n != 25 || len(h.until) != 50 {
		t.Fatalf("%d held and %d kept 150 s on, want 25 and 50", n, len(h.until))
	}
	// A thousand short holds one after the other: the map keeps the live
	// ones (the 50 above, the last few) and not every one there was.
	var more [1000]group
	for i := range more {
		at := later.Add(time.Duration(i) * time.Millisecond)
		h.hold(&more[i], at.Add(time.Millisecond), at)
	}
	if len(h.until) > 300 {
		t.Fatalf("%d holds kept after a thousand short ones", len(h.until))
	}
}
