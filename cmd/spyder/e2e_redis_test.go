// e2e_redis_test.go: crawls on the Redis store (frontier_store: redis)
// with real processes: redis-server, a master, workers and a local site.

package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/redistest"
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
