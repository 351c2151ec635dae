// master_test.go: the master in process: results once by lease, sinks, expiry, control.

package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/mgmt"
	"github.com/spyder-crawl/spyder/urlx"
)

type recordingSink struct {
	calls []string
	fail  bool
}

func (r *recordingSink) rec(kind string, c *crawluri.CrawlUri) error {
	r.calls = append(r.calls, fmt.Sprintf("%s %s %d", kind, c.URL, c.StatusCode))
	if r.fail && kind != "server_error" {
		return errors.New("disk full")
	}
	return nil
}
func (r *recordingSink) ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error {
	return r.rec("success", c)
}
func (r *recordingSink) ProcessRedirect(c *crawluri.CrawlUri) error { return r.rec("redirect", c) }
func (r *recordingSink) ProcessNotFound(c *crawluri.CrawlUri) error { return r.rec("not_found", c) }
func (r *recordingSink) ProcessServerError(c *crawluri.CrawlUri) error {
	return r.rec("server_error", c)
}
func (r *recordingSink) Close() error { return nil }

// dispatchOne takes the next URL from the frontier under a lease, as the
// loop does, without sockets.
func dispatchOne(t *testing.T, m *Master, now time.Time) *crawluri.CrawlUri {
	t.Helper()
	b, err := m.frontier.Next(time.Now(), 1) // seeds were added with time.Now()
	if err != nil || len(b) != 1 {
		t.Fatalf("next: %v %v", b, err)
	}
	return b[0]
}

func newTestMaster(t *testing.T, extra ...string) (*Master, *recordingSink) {
	flags := map[string]any{"master_lease_timeout": "60", "frontier_max_retries": "0", "prioritizer_crawl_delta": "0"}
	for i := 0; i+1 < len(extra); i += 2 {
		flags[extra[i]] = extra[i+1]
	}
	m, err := New(Options{Settings: testSettings(t, flags), Identity: "master:t:1", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	m.sinks = append(m.sinks, sink)
	return m, sink
}

func TestResultsAreAppliedOnceByLease(t *testing.T) {
	m, sink := newTestMaster(t)
	now := time.Now()
	m.addSeeds([]string{"http://a.test/1", "http://a.test/2"}, nil)
	c := dispatchOne(t, m, now)
	res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}
	res.SetExtractedURLs([]string{"http://a.test/3", "http://b.test/out-of-scope", "mailto:x@y"})
	if !m.apply(res, now) {
		t.Fatal("first result not applied")
	}
	// A duplicate, a forged lease and a lease for another URL change nothing.
	dup := *res
	if m.apply(&dup, now) {
		t.Fatal("duplicate applied")
	}
	if m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: 999, StatusCode: 500}, now) {
		t.Fatal("unknown lease applied")
	}
	c2 := dispatchOne(t, m, now)
	if m.apply(&crawluri.CrawlUri{URL: "http://a.test/other", LeaseID: c2.LeaseID, StatusCode: 200}, now) {
		t.Fatal("lease of another URL applied")
	}
	if m.stats.drops["stale_result"] != 3 { // duplicate, unknown lease, lease of another URL
		t.Fatalf("drops %v", m.stats.drops)
	}
	if len(sink.calls) != 1 {
		t.Fatalf("sink calls %v", sink.calls)
	}
	st := m.frontier.Stats()
	if st.Seen != 3 || st.Done != 1 || st.InFlight != 1 {
		t.Fatalf("frontier %+v", st)
	}
	if m.stats.linksLeftOut[urlx.ReasonOutOfScope] != 1 || m.stats.linksLeftOut[urlx.ReasonInvalid] != 1 {
		t.Fatalf("links: out %d bad %d", m.stats.linksLeftOut[urlx.ReasonOutOfScope], m.stats.linksLeftOut[urlx.ReasonInvalid])
	}
}

func TestStatusRoutingAndSinkFailure(t *testing.T) {
	m, sink := newTestMaster(t, "obey_robots_txt", "true")
	now := time.Now()
	urls := []string{"http://a.test/private"}
	for i := 0; i < 7; i++ {
		urls = append(urls, fmt.Sprintf("http://a.test/%d", i))
	}
	m.addSeeds(urls, nil)
	// The host's robots.txt goes first; the URL it disallows is recorded
	// without a fetch (910) and routed like a 4xx.
	c := dispatchOne(t, m, now)
	if c.URL != "http://a.test/robots.txt" {
		t.Fatalf("first dispatch %s", c.URL)
	}
	m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200, ContentBody: []byte("User-agent: *\nDisallow: /private\n")}, now)
	sink.calls = nil
	for _, status := range []int16{200, 301, 404, 503, 599, 810} {
		c := dispatchOne(t, m, now)
		m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: status}, now)
	}
	want := []string{"success http://a.test/0 200", "redirect http://a.test/1 301", "not_found http://a.test/2 404",
		"server_error http://a.test/3 503", "server_error http://a.test/4 599", "server_error http://a.test/5 810"}
	m.recordDecided() // a.test/private, taken out by the first Next after the rules
	want = append(want, "not_found http://a.test/private 910")
	if fmt.Sprint(sink.calls) != fmt.Sprint(want) {
		t.Fatalf("routing\n got %v\nwant %v", sink.calls, want)
	}
	if st := m.frontier.Stats(); st.Disallowed != 1 || !m.unflushed {
		t.Fatalf("disallowed: %+v, unflushed %v", st, m.unflushed)
	}
	// A sink that fails: the result is re-routed as 710, the crawl goes on.
	sink.calls, sink.fail = nil, true
	c = dispatchOne(t, m, now)
	m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, now)
	if fmt.Sprint(sink.calls) != fmt.Sprint([]string{"success http://a.test/6 200", "server_error http://a.test/6 710"}) || m.stats.sinkErrors != 1 {
		t.Fatalf("sink failure: %v", sink.calls)
	}
	// Status 0 hands the URL back: queued again, not done.
	m.addSeeds([]string{"http://a.test/back"}, nil)
	c = dispatchOne(t, m, now)
	m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID}, now)
	if st := m.frontier.Stats(); st.Queued != 1 || m.stats.returned != 1 {
		t.Fatalf("hand-back: %+v", st)
	}
}

func TestExpiredLeasesAreQueuedAgain(t *testing.T) {
	m, _ := newTestMaster(t)
	now := time.Now()
	m.addSeeds([]string{"http://a.test/1"}, nil)
	c := dispatchOne(t, m, now)
	m.expire(now.Add(30 * time.Second))
	if m.inFlight() != 1 {
		t.Fatal("expired early")
	}
	m.expire(now.Add(2 * time.Minute))
	if m.inFlight() != 0 || m.stats.expired != 1 || m.frontier.Stats().Queued != 1 {
		t.Fatalf("not re-queued: %+v", m.frontier.Stats())
	}
	// The late result of the expired lease is ignored.
	if m.apply(&crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}, now) {
		t.Fatal("late result applied")
	}
}

func TestRunFailsOnAnEndpointInUse(t *testing.T) {
	s := testSettings(t, nil)
	a, _ := New(Options{Settings: s, Identity: "master:t:1", Logger: testLogger(t)})
	b, _ := New(Options{Settings: s, Identity: "master:t:2", Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	err := b.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "binding zeromq_master_push") {
		t.Fatalf("second master: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("first master: %v", err)
	}
}

// TestLinksAreCanonicalizedAsConfigured: the master keys links the way
// url_canonicalization says, so equivalent spellings are one URL, and a
// step left out keeps its distinction.
func TestLinksAreCanonicalizedAsConfigured(t *testing.T) {
	raw := []string{"http://a.test/x/../p%7e#one", "HTTP://A.test:80/p~#two", "http://a.test/p~"}
	for _, tc := range []struct {
		steps []string
		want  int
	}{
		{[]string{"resolve_dot_segments", "normalize_percent_encoding", "remove_fragment"}, 1},
		{[]string{"resolve_dot_segments", "normalize_percent_encoding"}, 3}, // the fragments keep them apart
		{[]string{}, 3},
	} {
		s := testSettings(t, map[string]any{"url_canonicalization": tc.steps})
		m, err := New(Options{Settings: s, Identity: "master:t:1", Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		m.gate.Scope, _ = newAllowAll()
		links, leftOut, _ := m.admissible(raw, s.MaxLinksPerPage)
		invalid := leftOut[urlx.ReasonInvalid]
		n, err := m.frontier.Add(links, time.Now())
		m.closeState()
		if err != nil || invalid != 0 || n != tc.want {
			t.Errorf("steps %v: %d new URLs from %v (invalid %d, %v), want %d", tc.steps, n, links, invalid, err, tc.want)
		}
	}
}

// TestControlRequestsTakeEffectOnce: a control request repeated with the
// same ID (the command repeats it until answered) is carried out once and
// answered the same way; pause and resume flip dispatch.
func TestControlRequestsTakeEffectOnce(t *testing.T) {
	m, _ := newTestMaster(t)
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	pub, _ := zctx.NewSocket(zmq.PUB)
	defer pub.Close()
	pub.SetLinger(0)
	now := time.Now()
	req := func(verb, id string, urls ...string) mgmt.Reply {
		t.Helper()
		msg := mgmt.New(mgmt.TopicControl, "ctl:t:1", verb, mgmt.Request{ID: id, URLs: urls})
		m.control(msg, pub, now)
		return m.replies[id]
	}
	r1 := req(mgmt.VerbAdd, "a1", "http://a.test/1", "http://a.test/2", "::bad")
	r2 := req(mgmt.VerbAdd, "a1", "http://a.test/1", "http://a.test/2", "::bad")
	if !r1.OK || r1.Added != 2 || r1.Bad != 1 || !reflect.DeepEqual(r2, r1) || len(r1.Refused) != 1 || !strings.HasPrefix(r1.Refused[0], "::bad: ") || m.frontier.Stats().Seen != 2 || m.badSeeds != 1 {
		t.Fatalf("add: %+v then %+v, seen %d, bad %d", r1, r2, m.frontier.Stats().Seen, m.badSeeds)
	}
	if r := req(mgmt.VerbAdd, "a2", "http://a.test/1"); r.Added != 0 || !r.OK {
		t.Fatalf("known URL: %+v", r)
	}
	req(mgmt.VerbPause, "p1")
	if m.mode != modePaused || m.stateName() != "paused" {
		t.Fatal("not paused")
	}
	req(mgmt.VerbResume, "r1")
	req(mgmt.VerbPause, "p1") // a late repeat of the first pause changes nothing
	if m.mode == modePaused {
		t.Fatal("a repeated request took effect twice")
	}
	if r := req("reboot", "x1"); r.OK || !strings.Contains(r.Error, `unknown request "reboot"`) {
		t.Fatalf("unknown verb: %+v", r)
	}
	for i := 0; i < maxRemembered+10; i++ {
		req(mgmt.VerbStatus, fmt.Sprint("s", i))
	}
	if len(m.replies) != maxRemembered || len(m.replyOrder) != maxRemembered {
		t.Fatalf("%d replies remembered", len(m.replies))
	}
	var rw rateWindow
	for i := 0; i < 15; i++ {
		rw.sample(now.Add(time.Duration(i)*time.Second), int64(i*100))
	}
	if got := rw.perSecond(); got != 100 {
		t.Fatalf("rate %v", got)
	}
}

// TestMillionLinksAreCapped: a result carrying a million links (a broken
// or hostile worker) is applied with max_links_per_page of them; the rest
// are counted, and the master goes on.
func TestMillionLinksAreCapped(t *testing.T) {
	m, _ := newTestMaster(t, "max_links_per_page", "1000")
	now := time.Now()
	m.addSeeds([]string{"http://a.test/"}, nil)
	c := dispatchOne(t, m, now)
	links := make([]string, 1000000)
	for i := range links {
		links[i] = fmt.Sprintf("http://a.test/%d", i)
	}
	res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}
	res.SetExtractedURLs(links)
	if !m.apply(res, now) {
		t.Fatal("result not applied")
	}
	if m.stats.linksCut != 999000 || m.stats.linksNew != 1000 || m.frontier.Stats().Seen != 1001 {
		t.Fatalf("cut %d, new %d, seen %d", m.stats.linksCut, m.stats.linksNew, m.frontier.Stats().Seen)
	}
}

func TestTrimPartialLine(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a\n", "a\n"},
		{"a\nb\n", "a\nb\n"},
		{"a\n{\"url\":", "a\n"},
		{"no newline at all", ""},
		{"a\n" + long, "a\n"},
		{long + "\n" + long, long + "\n"},
	} {
		path := filepath.Join(t.TempDir(), "out.jsonl")
		if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := trimPartialLine(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got, _ := os.ReadFile(path); string(got) != tc.want {
			t.Errorf("%.20q...: got %d bytes, want %d", tc.in, len(got), len(tc.want))
		}
	}
}

// TestJSONLSinkOpensPastATornLine: a master killed while its buffer
// flushed leaves half a line; the next master's sink cuts it and goes on
// with whole lines (the cut result was not committed and comes again).
func TestJSONLSinkOpensPastATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := os.WriteFile(path, []byte("{\"url\":\"http://a.test/1\"}\n{\"url\":\"http://a.te"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewJSONLSink(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ProcessSuccessfulCrawl(&crawluri.CrawlUri{URL: "http://a.test/2", StatusCode: 200}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.f.Close()
	got, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), got)
	}
	for i, want := range []string{"http://a.test/1", "http://a.test/2"} {
		var rec JSONLRecord
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil || rec.URL != want {
			t.Errorf("line %d: %q (%v), want the record of %s", i+1, lines[i], err, want)
		}
	}
}

// TestLinkCapCountsDistinctLinks: max_links_per_page bounds distinct
// links, not occurrences. A page with 15,000 links of which 500 are
// distinct (from a worker that does not make them distinct, as a
// third-party worker may not) keeps all 500, the last one too; links that
// differ only in their canonical form count once.
func TestLinkCapCountsDistinctLinks(t *testing.T) {
	m, _ := newTestMaster(t, "max_links_per_page", "10000")
	now := time.Now()
	m.addSeeds([]string{"http://a.test/"}, nil)
	c := dispatchOne(t, m, now)
	var links []string
	for i := 0; i < 15000; i++ {
		links = append(links, fmt.Sprintf("http://a.test/%d", i%499), fmt.Sprintf("HTTP://A.TEST:80/%d#x", i%499))
	}
	links = append(links, "http://a.test/last")
	res := &crawluri.CrawlUri{URL: c.URL, LeaseID: c.LeaseID, StatusCode: 200}
	res.SetExtractedURLs(links)
	if !m.apply(res, now) {
		t.Fatal("result not applied")
	}
	if m.stats.linksCut != 0 || m.stats.linksNew != 500 || m.frontier.Stats().Seen != 501 {
		t.Fatalf("cut %d, new %d, seen %d", m.stats.linksCut, m.stats.linksNew, m.frontier.Stats().Seen)
	}
}
