// redis_test.go: the Redis Cluster helper: a real cluster forms, and when a
// primary is killed its replica takes over with every acknowledged write.

package redistest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisClusterFailover starts 3 primaries with a replica each, writes
// keys acknowledged by a replica (WAIT 1), kills -9 the primary of one
// key's slot, and checks that its replica is promoted, writes to that slot
// work again, and no acknowledged key is lost.
func TestRedisClusterFailover(t *testing.T) {
	c := StartRedisCluster(t, 3, 1, 1500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	defer rc.Close()

	const keys = 1000
	for i := range keys {
		if err := rc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.Do(ctx, "WAIT", 1, 5000).Int()
		if err == nil && n < 1 {
			err = fmt.Errorf("%s: WAIT 1 acknowledged by %d replicas", m.Options().Addr, n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	owner, err := rc.MasterForKey(ctx, "k0")
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Node(t, owner.Options().Addr)
	replica := c.ReplicaOf(t, victim)
	victim.Kill()
	killed := time.Now()
	for replica.Role() != "master" {
		if ctx.Err() != nil {
			t.Fatalf("the replica %s of the killed %s was not promoted", replica.Addr, victim.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("primary %s killed: replica %s promoted after %v (cluster-node-timeout 1.5 s)", victim.Addr, replica.Addr, time.Since(killed).Round(10*time.Millisecond))
	for {
		// One attempt, bounded: go-redis retries a refused dial inside
		// one call for many seconds (14 s seen with MaxRedirects 16).
		attempt, stop := context.WithTimeout(ctx, 500*time.Millisecond)
		err := rc.Set(attempt, "k0", "after", 0).Err()
		stop()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("writes to k0's slot did not come back after the kill of %s: %v", victim.Addr, err)
		}
		// go-redis reloads its slot map on MOVED, not on a refused
		// connection (redis/go-redis#3979, open): until its periodic
		// reload (60 s) it would keep dialling the dead primary. A client
		// of the cluster reloads on a network error itself.
		rc.ReloadState(ctx)
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("writes to its slots back through go-redis after %v", time.Since(killed).Round(10*time.Millisecond))
	for i := 1; i < keys; i++ {
		v, err := rc.Get(ctx, fmt.Sprintf("k%d", i)).Int()
		if err != nil || v != i {
			t.Fatalf("k%d after the failover: %v, %v", i, v, err)
		}
	}
	promoted := 0
	for _, n := range c.Nodes {
		if n != victim && n.Role() == "master" {
			promoted++
		}
	}
	if promoted != 3 {
		t.Fatalf("%d primaries alive after the failover, want 3 (the replica promoted)", promoted)
	}
}
