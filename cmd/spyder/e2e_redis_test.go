// e2e_redis_test.go: crawls on the Redis store (frontier_store: redis)
// with real processes: redis-server, a master, workers and a local site.

package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/internal/redistest"
	"github.com/spyder-crawl/spyder/mgmt"
)

// redisEnv are the settings of a crawl on the Redis Cluster c.
func redisEnv(c *redistest.RedisCluster, extra ...string) []string {
	return append([]string{"SPYDER_FRONTIER_STORE=redis", "SPYDER_FRONTIER_REDIS_ADDRS=" + c.Addrs()[0],
		"SPYDER_FRONTIER_REDIS_OWNERSHIP_TTL=1.2", "SPYDER_FRONTIER_REDIS_PARTITIONS=64",
		"SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_STATE_DIR="}, extra...)
}

// TestCrawlOnRedisEndToEnd: a master on a 3-primary Redis Cluster with two
// workers crawls the test site: every page once, the output complete.
func TestCrawlOnRedisEndToEnd(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site := startSite(t, 110, 3*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	c := newCluster(t, redisEnv(rc)...)
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	resumeWith(t, c, 2)
	waitClean(t, m, w1, w2)
	checkCrawl(t, site, out)
}

// TestRedisMasterKill9LosesNothing kills the master with SIGKILL at random
// moments while two workers keep running; each new master (a new
// identity) takes the partitions over once the dead one's ownership
// lapses, and queues again what it had in flight. At the end every page
// was fetched, none more often than once plus what was in flight at a
// kill.
func TestRedisMasterKill9LosesNothing(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site := startSiteOn(t, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, 300, 5*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	const perWorker = 10
	c := newCluster(t, redisEnv(rc, "SPYDER_MASTER_INFLIGHT_PER_WORKER=10", "SPYDER_MAX_CLIENTS=5")...)
	w1 := start(t, "worker1", c.Env, "worker")
	w2 := start(t, "worker2", c.Env, "worker")
	const kills = 4
	// Each new master waits for the dead one's partitions to lapse (1.2 s).
	killMasters(t, c, kills, 300*time.Millisecond, "--seeds", seeds, "--out", out)
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	resumeWith(t, c, 2)
	waitClean(t, m, w1, w2)
	extra := checkNothingLost(t, site, out, kills*2*perWorker)
	t.Logf("%d URLs, %d kills, %d repeated fetches", len(site.Expected()), kills, extra)
}

// TestRedisUnreachableSaysWhere: a master whose Redis does not answer
// exits 1 and names the address it tried.
func TestRedisUnreachableSaysWhere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing answers there now
	c := newCluster(t, "SPYDER_FRONTIER_STORE=redis", "SPYDER_FRONTIER_REDIS_ADDRS="+addr, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_STATE_DIR=")
	m := start(t, "master", c.Env, "master")
	if code := m.Wait(t, 20*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if !strings.Contains(m.Text(), "no Redis answered at "+addr) {
		t.Fatalf("the error does not say which Redis failed:\n%s", m.Text())
	}
}

// tenHosts are the loopback addresses of a site of ten hosts.
var tenHosts = []string{"127.0.0.20", "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24",
	"127.0.0.25", "127.0.0.26", "127.0.0.27", "127.0.0.28", "127.0.0.29"}

// mergeOutputs writes the JSON Lines of several masters into one file.
func mergeOutputs(t *testing.T, dir string, outs ...string) string {
	t.Helper()
	var all []byte
	for _, o := range outs {
		b, err := os.ReadFile(o)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return writeFile(t, dir, "merged.jsonl", string(all))
}

// TestTwoMastersFourWorkersOnRedis: two masters on one Redis Cluster
// crawl, each with two workers of its own settings; the workers learn the
// other master from the directory and work for both. Every page of a
// 2,000-page site over ten hosts is fetched once and in one output.
func TestTwoMastersFourWorkersOnRedis(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site := startSiteOn(t, tenHosts, 210, 2*time.Millisecond)
	if n := len(site.Expected()); n < 2000 {
		t.Fatalf("site too small: %d pages", n)
	}
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	env := redisEnv(rc, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_MAX_CLIENTS=8")
	c1, c2 := newCluster(t, env...), newCluster(t, env...)
	var workers []*proc
	for i, c := range []*cluster{c1, c1, c2, c2} {
		workers = append(workers, start(t, fmt.Sprintf("worker%d", i+1), c.Env, "worker"))
	}
	out1, out2 := dir+"/m1.jsonl", dir+"/m2.jsonl"
	m1 := start(t, "master1", c1.Env, "master", "--until-done", "--seeds", seeds, "--out", out1)
	m1.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady)) // the seeds are in
	m2 := start(t, "master2", c2.Env, "master", "--until-done", "--out", out2)
	waitClean(t, m1)
	waitClean(t, m2, workers...)
	checkCrawl(t, site, mergeOutputs(t, dir, out1, out2))
	for _, m := range []*proc{m1, m2} {
		down := m.Find(event(events.MasterDown))
		if len(down) != 1 || down[0]["dispatched"].(float64) == 0 {
			t.Errorf("%s dispatched nothing: %v", m.Name(), down)
		}
	}
	for _, w := range workers {
		if len(w.Find(event("master.joined"))) == 0 {
			t.Errorf("%s never connected to the other master", w.Name())
		}
	}
}

// TestKillOneOfTwoMastersOnRedis: kill -9 of one of two masters mid-crawl.
// The other takes its partitions over within 10 s (it dispatches them:
// the site's log shows every page fetched), the workers of the dead
// master's settings go on working for the other, and pages are fetched
// again only for what the dead master had in flight.
func TestKillOneOfTwoMastersOnRedis(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site := startSiteOn(t, tenHosts, 210, 15*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	const perWorker = 10
	env := redisEnv(rc, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_MAX_CLIENTS=8",
		fmt.Sprintf("SPYDER_MASTER_INFLIGHT_PER_WORKER=%d", perWorker))
	c1, c2 := newCluster(t, env...), newCluster(t, env...)
	var workers []*proc
	for i, c := range []*cluster{c1, c1, c2, c2} {
		workers = append(workers, start(t, fmt.Sprintf("worker%d", i+1), c.Env, "worker"))
	}
	out1, out2 := dir+"/m1.jsonl", dir+"/m2.jsonl"
	m1 := start(t, "master1", c1.Env, "master", "--until-done", "--seeds", seeds, "--out", out1)
	m1.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	m2 := start(t, "master2", c2.Env, "master", "--out", out2)
	m2.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	for len(site.Log()) < 600 {
		time.Sleep(20 * time.Millisecond)
	}
	held := m2.Find(event("partitions.changed"))
	m2.Signal(syscall.SIGKILL)
	killed := time.Now()
	m2.Wait(t, 10*time.Second)
	if len(held) == 0 {
		t.Fatal("master2 never held partitions")
	}
	// master1 takes them over (its log says so, with the time).
	var at time.Time
	m1.WaitFor(t, "master1 takes master2's partitions", 15*time.Second, func(r map[string]any) bool {
		ts, _ := r["time"].(string)
		at, _ = time.Parse(time.RFC3339Nano, ts)
		return r["event"] == "partitions.changed" && r["held"] == float64(64) && at.After(killed)
	})
	if d := at.Sub(killed); d > 10*time.Second {
		t.Errorf("master1 took the partitions over %v after the kill; want within 10 s", d)
	} else {
		t.Logf("partitions taken over %v after the kill", d.Round(10*time.Millisecond))
	}
	waitClean(t, m1, workers...)
	extra := checkNothingLost(t, site, mergeOutputs(t, dir, out1, out2), 4*perWorker)
	t.Logf("%d URLs, %d repeated fetches", len(site.Expected()), extra)
}

// TestOperatingASharedCrawl: with two masters on one crawl, `spyder
// status` at either shows both and their partitions; pause and resume at
// one act on both; `stop --master` stops one (the workers go on with the
// other, which takes its partitions); `stop` stops the crawl.
func TestOperatingASharedCrawl(t *testing.T) {
	rc := redistest.StartRedisCluster(t, 3, 0, 1500*time.Millisecond)
	site := startSiteOn(t, tenHosts, 200, 50*time.Millisecond) // slow: the crawl outlasts the test's steps
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	env := redisEnv(rc, "SPYDER_FRONTIER_CLASS=multiple_host", "SPYDER_MAX_CLIENTS=4")
	c1, c2 := newCluster(t, env...), newCluster(t, env...)
	w1 := start(t, "worker1", c1.Env, "worker")
	w2 := start(t, "worker2", c2.Env, "worker")
	m1 := start(t, "master1", c1.Env, "master", "--seeds", seeds, "--out", dir+"/m1.jsonl")
	m1.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))
	m2 := start(t, "master2", c2.Env, "master", "--out", dir+"/m2.jsonl")
	m2.WaitFor(t, "MASTER_READY", 20*time.Second, event(events.MasterReady))

	st := waitStatus(t, c2, "both masters in master2's status", 10*time.Second, func(s mgmt.Status) bool {
		if s.Cluster == nil || len(s.Cluster.Masters) != 2 {
			return false
		}
		sum := 0
		for _, cm := range s.Cluster.Masters {
			if cm.Partitions == 0 {
				return false
			}
			sum += cm.Partitions
		}
		return sum == s.Cluster.Partitions
	})
	m2id := st.Master
	if text := ctl(t, c1, "status"); !strings.Contains(text, "2 masters sharing 64 partitions") || !strings.Contains(text, m2id) {
		t.Fatalf("status at master1 does not show the crawl's masters:\n%s", text)
	}

	ctl(t, c1, "pause")
	waitStatus(t, c2, "master2 paused by a pause at master1", 5*time.Second, func(s mgmt.Status) bool { return s.State == "paused" })
	ctl(t, c1, "resume")
	waitStatus(t, c2, "master2 resumed by a resume at master1", 5*time.Second, func(s mgmt.Status) bool { return s.State == "running" })

	if out := ctl(t, c1, "stop", "--master", m2id); !strings.Contains(out, "is stopping") {
		t.Fatalf("stop --master: %s", out)
	}
	if code := m2.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("master2 stopped with exit code %d", code)
	}
	waitStatus(t, c1, "master1 alone with every partition", 10*time.Second, func(s mgmt.Status) bool {
		return s.Cluster != nil && len(s.Cluster.Masters) == 1 && s.Cluster.Masters[0].Partitions == 64
	})
	for _, w := range []*proc{w1, w2} {
		select {
		case <-w.Done():
			t.Fatalf("%s quit when one master of two stopped", w.Name())
		default:
		}
	}
	n := len(site.Log())
	time.Sleep(time.Second)
	if len(site.Log()) == n {
		t.Fatal("nothing fetched after master2 stopped: the crawl should go on with master1")
	}
	ctl(t, c1, "stop")
	waitClean(t, m1, w1, w2)
}
