// bodies_test.go: bodies cross the wire only when a sink of the master
// reads them.

package spydertest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/master"
	"github.com/spyder-crawl/spyder/settings"
)

// received is what a recording sink saw of one result.
type received struct {
	status      int16
	body        int   // bytes of the body that came with the result
	size        int64 // BodySize: the body's size, whether it came or not
	contentType string
}

// recorders holds each test's recording sink by the name in its extra
// setting "recorder" (the sink factory is registered once, at init).
var recorders sync.Map // name -> *recordingSink

type recordingSink struct {
	needsBody bool
	mu        sync.Mutex
	got       map[string]received
}

func (r *recordingSink) record(c *crawluri.CrawlUri) error {
	mt, _ := c.ContentType()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[c.URL] = received{status: c.StatusCode, body: len(c.ContentBody), size: c.BodySize(), contentType: mt}
	return nil
}

func (r *recordingSink) ProcessSuccessfulCrawl(c *crawluri.CrawlUri) error { return r.record(c) }
func (r *recordingSink) ProcessRedirect(c *crawluri.CrawlUri) error        { return r.record(c) }
func (r *recordingSink) ProcessNotFound(c *crawluri.CrawlUri) error        { return r.record(c) }
func (r *recordingSink) ProcessServerError(c *crawluri.CrawlUri) error     { return r.record(c) }
func (r *recordingSink) Close() error                                      { return nil }

// bodyFreeSink is a recordingSink that says it reads no body.
type bodyFreeSink struct{ *recordingSink }

func (bodyFreeSink) NeedsBody() bool { return false }

func init() {
	factory := func(s *settings.Settings) (master.Sink, error) {
		name, _ := s.ExtraValue("recorder")
		r, ok := recorders.Load(name)
		if !ok {
			return nil, fmt.Errorf("no recorder %q", name)
		}
		if rs := r.(*recordingSink); !rs.needsBody {
			return bodyFreeSink{rs}, nil
		}
		return r.(*recordingSink), nil
	}
	master.RegisterSink("test_recorder", factory)
}

// TestBodiesOnlyWhenASinkReadsThem: with JSON Lines and a sink that reads
// no body, the workers send no page's body (a robots.txt's they do: the
// master parses it), and the sizes and media types every sink reports
// are the pages' own; with a sink that reads bodies, every body comes.
func TestBodiesOnlyWhenASinkReadsThem(t *testing.T) {
	site, err := testsite.Start(testsite.Options{IPs: []string{"127.0.0.2", "127.0.0.3"}, OffsiteIP: "127.0.0.9", Pages: 12,
		RobotsTxt: "User-agent: *\nDisallow: /nothing-here\n"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	sizes := map[string]int64{}
	direct := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range site.Expected() {
		resp, err := direct.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sizes[u] = n
	}
	for _, tc := range []struct {
		name       string
		needsBody  bool
		wantBodies bool
	}{
		{name: "no sink reads bodies", needsBody: false, wantBodies: false},
		{name: "a sink reads bodies", needsBody: true, wantBodies: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingSink{needsBody: tc.needsBody, got: map[string]received{}}
			recorders.Store(t.Name(), rec)
			dir := t.TempDir()
			seeds := filepath.Join(dir, "seeds.txt")
			if err := os.WriteFile(seeds, []byte(strings.Join(site.Seeds(), "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			c := NewCluster(t)
			s := c.Settings(t, "SPYDER_SEEDS_FILE="+seeds, "SPYDER_OUTPUT_JSONL="+filepath.Join(dir, "pages.jsonl"),
				`SPYDER_MASTER_SINKS=["jsonl", "test_recorder"]`, "SPYDER_EXTRA=recorder="+t.Name())
			m := StartMaster(t, "master", s, MasterOptions{UntilDone: true})
			ready := m.WaitFor(t, "master ready", 10*time.Second, Event(events.MasterReady))
			if ready["bodies"] != tc.wantBodies {
				t.Errorf("master ready says bodies %v, want %v", ready["bodies"], tc.wantBodies)
			}
			w := StartWorker(t, "w1", s)
			if err := m.Wait(t, 60*time.Second); err != nil {
				t.Fatalf("master: %v", err)
			}
			if err := w.Wait(t, 20*time.Second); err != nil {
				t.Fatalf("worker: %v", err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			robots := 0
			for u, r := range rec.got {
				if strings.HasSuffix(u, "/robots.txt") {
					robots++
					if r.body == 0 {
						t.Errorf("%s came without its body", u)
					}
					continue
				}
				want, ok := sizes[u]
				if !ok {
					t.Errorf("a result for %s, not a URL of the site", u)
					continue
				}
				if r.size != want {
					t.Errorf("%s: size %d, want %d", u, r.size, want)
				}
				if tc.wantBodies != (r.body > 0) && want > 0 {
					t.Errorf("%s: %d bytes of body came, want bodies %v", u, r.body, tc.wantBodies)
				}
				if r.status == 200 && r.contentType != "text/html" {
					t.Errorf("%s: media type %q", u, r.contentType)
				}
			}
			if robots != 2 || len(rec.got) < len(sizes) {
				t.Errorf("%d results, %d of them robots.txt; want every page (%d) and 2 robots.txt", len(rec.got), robots, len(sizes))
			}
		})
	}
}
