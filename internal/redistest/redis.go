// Package redistest starts real redis-server processes for tests (one
// Redis, or a Redis Cluster) on loopback ports of the test's own, each
// node stopped by its pid. It is apart from spydertest, which starts
// masters, so that the Redis store's own tests can use it.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisNode is one redis-server of a test cluster.
type RedisNode struct {
	Addr string // 127.0.0.1:port
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// RedisCluster is a running Redis Cluster.
type RedisCluster struct {
	Nodes []*RedisNode
}

// Addrs are the addresses of every node (seed addresses for a client).
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// StartRedisCluster starts primaries × (1 + replicasEach) redis-server
// processes with cluster mode, append-only files and a cluster-node-timeout
// of nodeTimeout, makes them one cluster (redis-cli --cluster create) and
// waits until every node says cluster_state:ok and every replica's link to
// its primary is up. Every process is killed, by pid, when the test ends.
// redis-server and redis-cli must be installed (.ci/run installs them).
func StartRedisCluster(t testing.TB, primaries, replicasEach int, nodeTimeout time.Duration) *RedisCluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: install redis-server (Debian package; .ci/run does): %v", bin, err)
		}
	}
	n := primaries * (1 + replicasEach)
	ports := freePorts(t, n)
	c := &RedisCluster{}
	for _, port := range ports {
		c.Nodes = append(c.Nodes, startRedisNode(t, port, nodeTimeout))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasEach), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(t, 30*time.Second)
	return c
}

// StartRedis starts one redis-server (no cluster) with an append-only
// file on a loopback port of the test's own; it is killed, by pid, when
// the test ends.
func StartRedis(t testing.TB) *RedisNode {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found: install redis-server (Debian package; .ci/run does): %v", err)
	}
	return startRedisNode(t, freePorts(t, 1)[0], 0)
}

// startRedisNode starts a redis-server; nodeTimeout > 0 makes it a
// cluster node.
func startRedisNode(t testing.TB, port int, nodeTimeout time.Duration) *RedisNode {
	t.Helper()
	dir := t.TempDir()
	n := &RedisNode{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, done: make(chan struct{})}
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--appendonly", "yes", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(dir, "redis.log"), "--protected-mode", "no"}
	if nodeTimeout > 0 {
		// As the README recommends: the shards that are up keep serving
		// while one fails over.
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
			"--cluster-require-full-coverage", "no")
	}
	n.cmd = exec.Command("redis-server", args...)
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server on %s: %v", n.Addr, err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "redis.log")); err == nil {
				t.Logf("---- redis %s log (last lines) ----\n%s", n.Addr, tail(string(b), 20))
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := n.Info("server"); err == nil {
			return n
		}
		select {
		case <-n.done:
			b, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server on %s exited at start:\n%s", n.Addr, tail(string(b), 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer after 10 s", n.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the node with SIGKILL and waits for it to be gone.
func (n *RedisNode) Kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// Info returns the fields of one INFO section (or CLUSTER INFO for
// "cluster-info") as a map, through redis-cli.
func (n *RedisNode) Info(section string) (map[string]string, error) {
	host, port, _ := net.SplitHostPort(n.Addr)
	args := []string{"-h", host, "-p", port}
	if section == "cluster-info" {
		args = append(args, "cluster", "info")
	} else {
		args = append(args, "info", section)
	}
	out, err := exec.Command("redis-cli", args...).Output()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no answer to INFO %s: %q", n.Addr, section, out)
	}
	return m, nil
}

// WaitHealthy waits until every live node says cluster_state:ok and every
// live replica's link to its primary is up.
func (c *RedisCluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for time.Now().Before(deadline) {
		why = c.unhealthy()
		if why == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redis cluster not healthy after %v: %s", timeout, why)
}

func (c *RedisCluster) unhealthy() string {
	for _, n := range c.Nodes {
		select {
		case <-n.done:
			continue // killed by the test
		default:
		}
		ci, err := n.Info("cluster-info")
		if err != nil {
			return err.Error()
		}
		if ci["cluster_state"] != "ok" {
			return n.Addr + " cluster_state:" + ci["cluster_state"]
		}
		repl, err := n.Info("replication")
		if err != nil {
			return err.Error()
		}
		if repl["role"] == "slave" && repl["master_link_status"] != "up" {
			return n.Addr + " master_link_status:" + repl["master_link_status"]
		}
	}
	return ""
}

// Role is a node's replication role: "master" or "slave".
func (n *RedisNode) Role() string {
	repl, err := n.Info("replication")
	if err != nil {
		return ""
	}
	return repl["role"]
}

// Node is the cluster's node at addr; the test fails when there is none.
func (c *RedisCluster) Node(t testing.TB, addr string) *RedisNode {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("no redis node at %s", addr)
	return nil
}

// ReplicaOf is a replica of primary; the test fails when it has none.
func (c *RedisCluster) ReplicaOf(t testing.TB, primary *RedisNode) *RedisNode {
	t.Helper()
	for _, n := range c.Nodes {
		if info, err := n.Info("replication"); err == nil && info["role"] == "slave" && primary.Addr == info["master_host"]+":"+info["master_port"] {
			return n
		}
	}
	t.Fatalf("no replica of %s", primary.Addr)
	return nil
}

// freePorts finds n free loopback TCP ports of 20000 and above, where
// redis's cluster bus port (port + 10000) is free too.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	for port := 20000 + os.Getpid()%20000; len(out) < n && port < 55000; port++ {
		if free(port) && free(port+10000) {
			out = append(out, port)
		}
	}
	if len(out) < n {
		t.Fatalf("found %d free port pairs of %d", len(out), n)
	}
	return out
}

func free(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
