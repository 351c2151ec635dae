// noopworker_test.go: workers that know only the documented protocol crawl to the end.

package master

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	dto "github.com/prometheus/client_model/go"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/mgmt"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

// noopWorker speaks the wire protocol exactly as PROTOCOL.md describes it,
// with nothing but sockets and the codecs: it waits until the master's
// result socket has subscribed to its XPUB, then connects its PULL socket
// and announces until acknowledged,
// heartbeats, answers every CrawlUri with status 200 at once, and on quit
// sends quit.ack and stops. It stands in for a third-party worker and is the
// load generator of the dispatch benchmark.
type noopWorker struct {
	id        string
	results   int
	links     func(url string) []string // links to report per URL, or nil
	setStatus int16
}

func (w *noopWorker) run(ctx context.Context, s *settings.Settings) error {
	zctx, err := zmq.NewContext()
	if err != nil {
		return err
	}
	defer zctx.Term()
	mk := func(t zmq.Type, ep string) *zmq.Socket {
		so, err := zctx.NewSocket(t)
		if err != nil {
			panic(err)
		}
		so.SetLinger(time.Second)
		if t == zmq.SUB {
			so.SetSubscribe("spyder.")
		}
		if t == zmq.XPUB {
			so.SetSndhwm(1 << 20)
		}
		if ep != "" {
			if err := so.Connect(ep); err != nil {
				panic(err)
			}
		}
		return so
	}
	pull := mk(zmq.PULL, "")
	pub := mk(zmq.XPUB, s.ZeromqMasterSub)
	msub := mk(zmq.SUB, s.ZeromqMgmtMaster)
	mpub := mk(zmq.PUB, s.ZeromqMgmtWorker)
	defer func() {
		for _, so := range []*zmq.Socket{pull, pub, msub, mpub} {
			so.Close()
		}
	}()
	// Results can only flow once the master's SUB has subscribed: the PULL
	// socket is connected, and the worker announced, only after that.
	poller := zmq.NewPoller()
	poller.Add(pub, zmq.POLLIN)
	poller.Add(msub, zmq.POLLIN)
	ready := false
	acked := false
	nextBeat := time.Now()
	buf := make([]byte, 0, 512)
	for ctx.Err() == nil {
		if now := time.Now(); ready && !now.Before(nextBeat) {
			verb := mgmt.VerbHeartbeat
			if !acked {
				verb = mgmt.VerbAvail
			}
			mpub.SendMessage(mgmt.TopicWorker, w.id, verb+` {"proto":1,"max_clients":100}`)
			nextBeat = now.Add(100 * time.Millisecond)
		}
		polled, err := poller.Poll(50 * time.Millisecond)
		if err != nil {
			return err
		}
		for _, p := range polled {
			switch p.Socket {
			case pub:
				for {
					sub, err := pub.RecvBytes(zmq.DONTWAIT)
					if err != nil {
						break
					}
					if !ready && len(sub) > 0 && sub[0] == 1 {
						ready = true
						if err := pull.Connect(s.ZeromqMasterPush); err != nil {
							return err
						}
						poller.Add(pull, zmq.POLLIN)
					}
				}
			case pull:
				for {
					frames, err := pull.RecvMessageBytes(zmq.DONTWAIT)
					if err != nil {
						break
					}
					var c crawluri.CrawlUri
					if err := c.Unmarshal(frames[1]); err != nil {
						return fmt.Errorf("worker got an undecodable CrawlUri: %w", err)
					}
					c.StatusCode = w.setStatus
					c.WorkerID = w.id
					if w.links != nil {
						c.SetExtractedURLs(w.links(c.URL))
					}
					buf = c.Encode(buf[:0])
					pub.SendBytes(frames[0], zmq.SNDMORE)
					pub.SendBytes(buf, 0)
					w.results++
				}
			case msub:
				for {
					frames, err := msub.RecvMessage(zmq.DONTWAIT)
					if err != nil {
						break
					}
					switch {
					case frames[0] == mgmt.TopicTo+w.id && frames[2] == mgmt.VerbAck:
						acked = true
					case frames[0] == mgmt.TopicWorker && frames[2] == mgmt.VerbQuit:
						mpub.SendMessage(mgmt.TopicWorker, w.id, mgmt.VerbQuitAck)
						return nil
					}
				}
			}
		}
	}
	return ctx.Err()
}

func testSettings(t testing.TB, extra map[string]any) *settings.Settings {
	t.Helper()
	eps := testsite.FreeEndpoints(t, 4)
	flags := map[string]any{
		"zeromq_master_push": eps[0], "zeromq_master_sub": eps[1],
		"zeromq_mgmt_master": eps[2], "zeromq_mgmt_worker": eps[3],
		"frontier_min_delay": "0", "frontier_crawl_delay_factor": "0",
		"master_callback": "", "master_progress_interval": "0", "heartbeat_interval": "0.1",
		"state_dir": "", // in memory
		// The made-up hosts have no robots.txt to fetch; the tests that
		// are about robots.txt turn it on.
		"obey_robots_txt": "false",
	}
	for k, v := range extra {
		flags[k] = v
	}
	s, err := settings.Load(settings.Source{Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProtocolOnlyWorkersCrawlToTheEnd runs a master against workers that
// know nothing but the documented wire protocol; every URL and every link
// they report comes back exactly once.
func TestProtocolOnlyWorkersCrawlToTheEnd(t *testing.T) {
	s := testSettings(t, nil)
	m, err := New(Options{Settings: s, Identity: "master:test:1", Logger: testLogger(t), UntilDone: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Setup{m: m}).AddSeeds("http://site.test/0"); err != nil {
		t.Fatal(err)
	}
	// Page i links to 2i+1 and 2i+2 below 1000: a tree of 1000 pages.
	links := func(u string) []string {
		var i int
		fmt.Sscanf(strings.TrimPrefix(u, "http://site.test/"), "%d", &i)
		var out []string
		for _, j := range []int{2*i + 1, 2*i + 2} {
			if j < 1000 {
				out = append(out, fmt.Sprintf("http://site.test/%d", j))
			}
		}
		return append(out, "http://elsewhere.test/", "not a url")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	workers := []*noopWorker{{id: "worker:a:1", links: links, setStatus: 200}, {id: "worker:b:2", links: links, setStatus: 200}}
	errs := make(chan error, len(workers))
	for _, w := range workers {
		go func() { errs <- w.run(ctx, s) }()
	}
	if err := m.Run(ctx); err != nil {
		t.Fatalf("master: %v", err)
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	st := m.frontier.Stats()
	if st.Done != 1000 || st.Seen != 1000 || m.stats.dispatched != 1000 || workers[0].results+workers[1].results != 1000 {
		t.Fatalf("stats %+v, dispatched %d, worker results %d+%d", st, m.stats.dispatched, workers[0].results, workers[1].results)
	}
	if m.stats.linksLeftOut[urlx.ReasonOutOfScope] != 1000 || m.stats.linksLeftOut[urlx.ReasonInvalid] != 1000 {
		t.Fatalf("scope: %d out of scope, %d invalid; want 1000 each", m.stats.linksLeftOut[urlx.ReasonOutOfScope], m.stats.linksLeftOut[urlx.ReasonInvalid])
	}
}

// TestCommitsArePaced: while results flow, the loop commits at most once
// per commitEvery (each commit is an fdatasync), and every result is
// durable when the crawl ends: a master reopened on the state finds them
// all done.
func TestCommitsArePaced(t *testing.T) {
	dir := t.TempDir()
	s := testSettings(t, map[string]any{"state_dir": dir, "metrics_listen": "127.0.0.1:0"})
	m, err := New(Options{Settings: s, Identity: "master:test:1", Logger: testLogger(t), UntilDone: true})
	if err != nil {
		t.Fatal(err)
	}
	var seeds []string
	for i := range 3000 {
		seeds = append(seeds, fmt.Sprintf("http://h%d.test/", i%50)+fmt.Sprint(i))
	}
	if _, err := (&Setup{m: m}).AddSeeds(seeds...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	workers := []*noopWorker{{id: "worker:a:1", setStatus: 200}, {id: "worker:b:2", setStatus: 200}}
	errs := make(chan error, len(workers))
	for _, w := range workers {
		go func() { errs <- w.run(ctx, s) }()
	}
	start := time.Now()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("master: %v", err)
	}
	elapsed := time.Since(start)
	for range workers {
		if err := <-errs; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	var h dto.Metric
	if err := m.metrics.commit.Write(&h); err != nil {
		t.Fatal(err)
	}
	// Turns while draining commit at once; a few dozen at most.
	commits, bound := h.GetHistogram().GetSampleCount(), uint64(elapsed/commitEvery)+50
	t.Logf("%d results in %v, %d commits", workers[0].results+workers[1].results, elapsed, commits)
	if commits > bound {
		t.Errorf("%d commits in %v: more than one per %v", commits, elapsed, commitEvery)
	}

	again, err := New(Options{Settings: s, Identity: "master:test:2", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer again.closeState()
	if st := again.frontier.Stats(); st.Done != 3000 || st.Queued != 0 {
		t.Fatalf("reopened: %+v, want 3000 done and none queued", st)
	}
}
