// e2e_bad_input_test.go: bad input end to end: bad config (exit 2), garbage frames, strangers on every socket, a flood.

package main

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/mgmt"
)

func TestBadConfigExitsWithCode2(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		env     []string
		file    string
		wantKey string
		wantMsg string
		// afterBind: found by the seeding callback, which runs once the
		// sockets are bound (still exit 2, before any dispatch).
		afterBind bool
	}{
		{name: "unknown key in file", file: "max_clients: 3\nmax_clientz: 4\n", wantKey: "max_clientz", wantMsg: "unknown setting"},
		{name: "unknown env var", env: []string{"SPYDER_FRONTIER_CLAS=x"}, wantKey: "frontier_clas", wantMsg: "unknown setting"},
		{name: "malformed endpoint in env", env: []string{"SPYDER_ZEROMQ_MASTER_PUSH=tcp://127.0.0.1"}, wantKey: "zeromq_master_push", wantMsg: "host:port"},
		{name: "bad transport", args: []string{"--zeromq-mgmt-master", "udp://127.0.0.1:5"}, wantKey: "zeromq_mgmt_master", wantMsg: "transport"},
		{name: "negative timeout flag", args: []string{"--request-timeout", "-3"}, wantKey: "request_timeout", wantMsg: "greater than 0"},
		{name: "negative timeout in file", file: "master_shutdown_grace: -1\n", wantKey: "master_shutdown_grace", wantMsg: "greater than 0"},
		{name: "not a number", env: []string{"SPYDER_MAX_CLIENTS=many"}, wantKey: "max_clients", wantMsg: "cannot use"},
		{name: "zero hwm", args: []string{"--zeromq-master-push-hwm", "0"}, wantKey: "zeromq_master_push_hwm", wantMsg: "at least 1"},
		{name: "bad regex", args: []string{"--regex-scope-positive", "("}, wantKey: "regex_scope_positive", wantMsg: "does not compile"},
		{name: "unknown frontier", args: []string{"--frontier-class", "nope"}, wantKey: "frontier_class", wantMsg: "not registered"},
		{name: "unknown callback", file: "master_callback: nope\n", wantKey: "master_callback", wantMsg: "not registered"},
		{name: "unknown canonicalization step", file: "url_canonicalization: [remove_fragment, lowercase_path]\n", wantKey: "url_canonicalization", wantMsg: "lowercase_path"},
		{name: "unknown frontier store", env: []string{"SPYDER_FRONTIER_STORE=mongo"}, wantKey: "frontier_store", wantMsg: "is not a store"},
		{name: "redis store without addresses", env: []string{"SPYDER_FRONTIER_STORE=redis"}, wantKey: "frontier_redis_addrs", wantMsg: "needs the host:port"},
		{name: "redis address without a port", env: []string{"SPYDER_FRONTIER_STORE=redis", "SPYDER_FRONTIER_REDIS_ADDRS=redis.example"}, wantKey: "frontier_redis_addrs", wantMsg: "is not host:port"},
		{name: "redis crawl name with a brace", env: []string{"SPYDER_FRONTIER_STORE=redis", "SPYDER_FRONTIER_REDIS_ADDRS=127.0.0.1:6379", "SPYDER_FRONTIER_REDIS_CRAWL=a{b}"}, wantKey: "frontier_redis_crawl", wantMsg: "letters, digits"},
		{name: "unknown queue selector", args: []string{"--queue-selector-class", "nope"}, wantKey: "queue_selector_class", wantMsg: "not registered"},
		{name: "unknown queue assignment", env: []string{"SPYDER_QUEUE_ASSIGNMENT_CLASS=dns"}, wantKey: "queue_assignment_class", wantMsg: "host_based, ip_based"},
		{name: "proxy without a port", env: []string{"SPYDER_PROXY_HOST=proxy.example"}, wantKey: "proxy_port", wantMsg: "when proxy_host is set"},
		{name: "bad static DNS mapping", args: []string{"--static-dns-mappings", "example.com=not-an-ip"}, wantKey: "static_dns_mappings", wantMsg: "IP address"},
		{name: "lease shorter than request", args: []string{"--master-lease-timeout", "5", "--request-timeout", "10"}, wantKey: "master_lease_timeout", wantMsg: "longer than request_timeout"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantKey: "no-such-flag", wantMsg: "unknown flag"},
		{name: "missing seeds file", args: []string{"--seeds", dir + "/no-seeds.txt"}, env: freeEndpointEnv(t), wantKey: "seeds_file", wantMsg: "no such file"},
		{name: "missing config file", args: []string{"--config", dir + "/absent.yaml"}, wantKey: "absent.yaml", wantMsg: "config file"},
		{name: "empty seeds file", args: []string{"--seeds", writeFile(t, dir, "empty.txt", "# nothing yet\n\n")}, env: freeEndpointEnv(t), wantKey: "seeds_file", wantMsg: "has no URL", afterBind: true},
		{name: "no seed can be crawled", args: []string{"--seeds", writeFile(t, dir, "bad.txt", "# my sites\nexample.com/a\n\nftp://example.org/\n")}, env: freeEndpointEnv(t), wantKey: "seeds_file", wantMsg: "none of the 2 URLs", afterBind: true},
		{name: "state_dir is a file", args: []string{"--state-dir", writeFile(t, dir, "state-file", "")}, env: freeEndpointEnv(t), wantKey: "state_dir", wantMsg: "is a file, not a directory"},
		{name: "state_dir under a file", args: []string{"--state-dir", dir + "/state-file/crawl"}, env: freeEndpointEnv(t), wantKey: "state_dir", wantMsg: "state-file is a file, not a directory"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"master"}, tc.args...)
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, dir, "c"+string(rune('a'+i))+".yaml", tc.file))
			}
			cmd := exec.Command(spyderBin, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			cmd.Dir = t.TempDir() // the default state_dir is relative
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want code 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.wantKey) || !strings.Contains(string(out), tc.wantMsg) {
				t.Fatalf("message does not name %q with %q:\n%s", tc.wantKey, tc.wantMsg, out)
			}
			// A mistake in the set-up is found before a socket is bound
			// (binding logs event=no_curve).
			if !tc.afterBind && strings.Contains(string(out), "no_curve") || strings.Contains(string(out), "master started") {
				t.Fatalf("the master bound its sockets before finding the mistake:\n%s", out)
			}
		})
	}
	t.Run("seeds refused name their lines", func(t *testing.T) {
		cmd := exec.Command(spyderBin, "master", "--seeds", dir+"/bad.txt")
		cmd.Env = append(os.Environ(), freeEndpointEnv(t)...)
		cmd.Dir = t.TempDir()
		out, _ := cmd.CombinedOutput()
		for _, want := range []string{"bad.txt:2", "write http://example.com/a or https://example.com/a", "bad.txt:4", "scheme \\\"ftp\\\" is not http or https"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("state_dir not writable", func(t *testing.T) {
		// A read-only filesystem of the master's own (a mount namespace,
		// as the disk-full test makes): root writes through permissions.
		ro := t.TempDir()
		script := fmt.Sprintf(`mount -t tmpfs -o ro,size=1m spyder-ro %q && exec "$0" "$@"`, ro)
		for _, stateDir := range []string{ro, ro + "/state"} {
			cmd := exec.Command("unshare", "--mount", "--map-root-user", "sh", "-c", script, spyderBin, "master", "--state-dir", stateDir)
			cmd.Env = append(os.Environ(), freeEndpointEnv(t)...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "state_dir") || !strings.Contains(string(out), "read-only file system") {
				t.Fatalf("state_dir %s: exit %v, output:\n%s", stateDir, err, out)
			}
		}
	})
	t.Run("worker with an unknown link tag", func(t *testing.T) {
		cmd := exec.Command(spyderBin, "worker", "--html-link-extractor-tags", "a", "--html-link-extractor-tags", "img")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "html_link_extractor_tags") {
			t.Fatalf("exit %v, output:\n%s", err, out)
		}
	})
	t.Run("worker with a wildcard master address", func(t *testing.T) {
		cmd := exec.Command(spyderBin, "worker", "--zeromq-master-push", "tcp://*:5550")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "zeromq_worker_proc_fetcher_pull") {
			t.Fatalf("exit %v, output:\n%s", err, out)
		}
	})
}

// TestGarbageFramesAreCountedAndTheCrawlCompletes sends malformed data and
// management frames to the master's two SUB sockets during a crawl.
func TestGarbageFramesAreCountedAndTheCrawlCompletes(t *testing.T) {
	site := startSite(t, 110, 5*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t)
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", out)
	m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))

	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	data, _ := zctx.NewSocket(zmq.PUB)
	ctl, _ := zctx.NewSocket(zmq.PUB)
	for _, s := range []*zmq.Socket{data, ctl} {
		s.SetLinger(0)
		defer s.Close()
	}
	if err := data.Connect(c.Sub); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Connect(c.MSub); err != nil {
		t.Fatal(err)
	}

	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")

	valid := (&crawluri.CrawlUri{URL: "http://127.0.0.2/forged", LeaseID: 42, StatusCode: 200}).Marshal()
	rng := rand.New(rand.NewSource(1))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	dataFrames := [][][]byte{
		{random(40)},
		{[]byte("master:x:1"), random(200)},
		{[]byte("master:x:1"), valid[:len(valid)/2]},
		{[]byte("master:x:1"), valid, []byte("extra")},
		{[]byte("master:x:1"), valid}, // decodes, but its lease was never issued
		{[]byte("master:x:1"), {}},
		{[]byte("master:x:1"), {0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff}}, // string length beyond the frame
	}
	mgmtFrames := [][][]byte{
		{[]byte("spyder.worker.")},
		{[]byte("spyder.worker."), []byte("bad identity with spaces"), []byte("heartbeat")},
		{[]byte("elsewhere."), []byte("worker:x:1"), []byte("heartbeat")},
		{[]byte("spyder.worker."), []byte("worker:x:1"), []byte("dance")},
		{[]byte("spyder.worker."), []byte("worker:x:1"), []byte("heartbeat {not json")},
		{[]byte("spyder.worker."), []byte("worker:x:1"), []byte("heartbeat"), []byte("more"), []byte("frames")},
		{[]byte("spyder.worker."), []byte("master:x:1"), []byte("quit.ack")},
		{random(10), random(10), random(10)},
	}
	send := func(s *zmq.Socket, frames [][]byte) {
		for i, f := range frames {
			flag := zmq.DONTWAIT
			if i < len(frames)-1 {
				flag |= zmq.SNDMORE
			}
			s.SendBytes(f, flag)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-m.Done():
			deadline = time.Now()
		default:
		}
		for _, f := range dataFrames {
			send(data, f)
		}
		for _, f := range mgmtFrames {
			send(ctl, f)
		}
		time.Sleep(20 * time.Millisecond)
	}

	waitClean(t, m, w1, w2)
	checkCrawl(t, site, out)
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 {
		t.Fatal("no MASTER_DOWN record")
	}
	drops, _ := down[0]["drops"].(map[string]any)
	for _, reason := range []string{"undecodable_result", "stale_result", "undecodable_mgmt", "mgmt_not_from_worker", "unknown_verb"} {
		if n, _ := drops[reason].(float64); n < 1 {
			t.Errorf("drops[%s] = %v, want > 0 (drops: %v)", reason, drops[reason], drops)
		}
	}
}

// freeEndpointEnv points the four master sockets at fresh ports and the
// state at a temporary directory, for cases that fail after start-up.
func freeEndpointEnv(t *testing.T) []string {
	eps := testsite.FreeEndpoints(t, 4)
	return []string{"SPYDER_ZEROMQ_MASTER_PUSH=" + eps[0], "SPYDER_ZEROMQ_MASTER_SUB=" + eps[1],
		"SPYDER_ZEROMQ_MGMT_MASTER=" + eps[2], "SPYDER_ZEROMQ_MGMT_WORKER=" + eps[3],
		"SPYDER_STATE_DIR=" + t.TempDir()}
}

// TestStrangersOnEveryBoundSocket: raw TCP garbage, a truncated ZMTP
// greeting and a frame cut short arrive at each of the master's four bound
// sockets; then a fake worker registers, takes URLs, sends a result with a
// real lease for a URL it was never given, starts a result it never
// finishes, and vanishes without a word. The master stays up, counts the
// forged result, re-queues what the fake held, and the real workers
// complete the crawl: every page fetched, every line written.
func TestStrangersOnEveryBoundSocket(t *testing.T) {
	site := startSite(t, 40, 5*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_MAX_CLIENTS=2")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", out)
	m.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))

	// A ZMTP 3.0 greeting (signature, version, NULL mechanism, as-server 0,
	// filler) and a READY command whose declared size outruns the bytes.
	greeting := append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0}, []byte("NULL")...)
	greeting = append(greeting, make([]byte, 64-len(greeting))...)
	rng := rand.New(rand.NewSource(2))
	garbage := make([]byte, 4096)
	rng.Read(garbage)
	payloads := map[string][]byte{
		"garbage":            garbage,
		"truncated greeting": greeting[:11],
		"frame cut short":    append(append([]byte{}, greeting...), 0x06, 0, 0, 0, 0, 0, 0x10, 0, 0, 5, 'R', 'E'),
	}
	for _, ep := range []string{c.Push, c.Sub, c.MPub, c.MSub} {
		for name, p := range payloads {
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(ep, "tcp://"), 5*time.Second)
			if err != nil {
				t.Fatalf("%s to %s: %v", name, ep, err)
			}
			_, _ = conn.Write(p)
			time.Sleep(20 * time.Millisecond)
			conn.Close()
		}
	}

	// The fake worker.
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	socket := func(typ zmq.Type, ep string) *zmq.Socket {
		so, err := zctx.NewSocket(typ)
		if err == nil {
			_ = so.SetLinger(0)
			err = so.Connect(ep)
		}
		if err != nil {
			t.Fatal(err)
		}
		return so
	}
	pull, results, announce := socket(zmq.PULL, c.Push), socket(zmq.PUB, c.Sub), socket(zmq.PUB, c.MSub)
	_ = pull.SetRcvtimeo(200 * time.Millisecond)
	fakeID := "worker:fake:1"
	var taken []*crawluri.CrawlUri
	for deadline := time.Now().Add(20 * time.Second); len(taken) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the fake worker got %d URLs in 20 s", len(taken))
		}
		_, _ = announce.SendMessage(mgmt.New(mgmt.TopicWorker, fakeID, mgmt.VerbAvail, mgmt.Announce{Protocol: mgmt.ProtocolVersion, MaxClients: 2}).Frames())
		frames, err := pull.RecvMessageBytes(0)
		if err != nil {
			continue
		}
		msg, err := crawluri.ParseDataMessage(frames)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, msg.Curi)
	}
	// A real lease, a URL it was not given.
	forged := *taken[0]
	forged.URL, forged.StatusCode = site.Seeds()[0]+"never-dispatched", 200
	_, _ = results.SendMessage(fakeID, forged.Marshal())
	// A result begun and never finished, then gone.
	half := *taken[1]
	half.StatusCode = 200
	_, _ = results.SendBytes([]byte(fakeID), zmq.SNDMORE)
	time.Sleep(100 * time.Millisecond)
	for _, so := range []*zmq.Socket{pull, results, announce} {
		so.Close()
	}
	zctx.Term()

	w1, w2 := start(t, "w1", c.Env, "worker"), start(t, "w2", c.Env, "worker")
	waitClean(t, m, w1, w2)
	checkCrawl(t, site, out)
	for _, u := range taken {
		if site.Counts()[u.URL] == 0 {
			t.Errorf("%s, held by the vanished worker, was never fetched", u.URL)
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 {
		t.Fatal("no MASTER_DOWN record")
	}
	drops, _ := down[0]["drops"].(map[string]any)
	if n, _ := drops["stale_result"].(float64); n < 1 {
		t.Errorf("the forged result was not counted: drops %v", drops)
	}
	if jsonl, _ := os.ReadFile(out); strings.Contains(string(jsonl), "never-dispatched") {
		t.Error("the forged result reached the output")
	}
}

// TestFloodDoesNotStallTheMaster: during a crawl a stranger floods the
// master's result and management sockets for 5 s: random multipart
// frames, 10 MB frames, malformed Thrift, heartbeats listing 2M leases,
// malformed JSON. The master's heartbeats, dispatch and timers keep their
// time (it bounds the messages and bytes one loop turn takes from a
// socket, and refuses frames larger than any real message at the
// transport): no worker finds the master silent, no worker is declared
// lost, and the crawl completes with every page.
func TestFloodDoesNotStallTheMaster(t *testing.T) {
	site := startSite(t, 150, 20*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, "SPYDER_HEARTBEAT_INTERVAL=0.5", "SPYDER_FRONTIER_CLASS=multiple_host")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	w1, w2 := start(t, "worker1", c.Env, "worker"), start(t, "worker2", c.Env, "worker")
	resumeWith(t, c, 2)

	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	flood := func(endpoint string, messages func(r *rand.Rand) [][]byte) {
		defer wg.Done()
		so, err := zctx.NewSocket(zmq.PUB)
		if err != nil {
			t.Error(err)
			return
		}
		defer so.Close()
		_ = so.SetLinger(0)
		_ = so.SetSndhwm(1000)
		if err := so.Connect(endpoint); err != nil {
			t.Error(err)
			return
		}
		r := rand.New(rand.NewSource(1))
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = so.SendMessageDontwait(messages(r))
		}
	}
	random := func(r *rand.Rand, max int) []byte {
		b := make([]byte, r.Intn(max+1))
		r.Read(b)
		return b
	}
	big := make([]byte, 10<<20)
	var leases strings.Builder
	leases.WriteString(`heartbeat {"proto":1,"max_clients":10,"inflight":1,"done":0,"errors":0,"leases":[`)
	for i := 0; i < 2000000; i++ {
		if i > 0 {
			leases.WriteByte(',')
		}
		leases.WriteString(strconv.Itoa(1000000 + i))
	}
	leases.WriteString("]}")
	hugeHeartbeat := []byte(leases.String())
	wg.Add(2)
	go flood(c.Sub, func(r *rand.Rand) [][]byte {
		switch r.Intn(10) {
		case 0:
			return [][]byte{[]byte("master:x:1"), big}
		case 1, 2, 3:
			return [][]byte{[]byte("master:x:1"), random(r, 2000)} // malformed Thrift
		default:
			frames := make([][]byte, 1+r.Intn(5))
			for i := range frames {
				frames[i] = random(r, 1000)
			}
			return frames
		}
	})
	go flood(c.MSub, func(r *rand.Rand) [][]byte {
		switch r.Intn(10) {
		case 0:
			return [][]byte{[]byte("spyder.worker"), []byte("worker:flood:1"), hugeHeartbeat}
		case 1:
			return [][]byte{[]byte("spyder.worker"), []byte("worker:flood:2"), big}
		case 2, 3:
			return [][]byte{[]byte("spyder.worker"), []byte("worker:flood:3"), append([]byte("heartbeat {"), random(r, 500)...)}
		default:
			frames := make([][]byte, 1+r.Intn(5))
			for i := range frames {
				frames[i] = random(r, 1000)
			}
			return frames
		}
	})
	wg.Wait()
	close(stop)
	waitClean(t, m, w1, w2)
	checkCrawl(t, site, out)
	for _, w := range []*proc{w1, w2} {
		if silent := w.Find(func(r map[string]any) bool { return strings.HasPrefix(fmt.Sprint(r["message"]), "master silent") }); len(silent) > 0 {
			t.Errorf("%s found the master silent during the flood: %v", w.Name(), silent)
		}
	}
	for _, lost := range m.Find(event("worker.lost")) {
		if id, _ := lost["worker"].(string); !strings.HasPrefix(id, "worker:flood:") {
			t.Errorf("a real worker was declared lost: %v", lost)
		}
	}
	down := m.Find(event(events.MasterDown))
	if len(down) != 1 {
		t.Fatalf("no MASTER_DOWN")
	}
	t.Logf("drops: %v", down[0]["drops"])
}
