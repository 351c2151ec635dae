// cluster.go: the settings a master and its workers share in a test: free
// loopback endpoints, fast heartbeats, no politeness, a state directory of
// the test's own.

package spydertest

import (
	"os"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/settings"
)

// Cluster is the environment of one crawl's processes.
type Cluster struct {
	// Env is the whole environment for a process of the binary: the
	// test's own plus the SPYDER_* settings of the cluster.
	Env []string
	// The master's four endpoints.
	Push, Sub, MPub, MSub string
}

// NewCluster makes a cluster's settings; extra are more SPYDER_*
// variables (later ones win).
func NewCluster(t testing.TB, extra ...string) *Cluster {
	eps := testsite.FreeEndpoints(t, 4)
	c := &Cluster{Push: eps[0], Sub: eps[1], MPub: eps[2], MSub: eps[3]}
	c.Env = append(os.Environ(),
		"SPYDER_ZEROMQ_MASTER_PUSH="+c.Push,
		"SPYDER_ZEROMQ_MASTER_SUB="+c.Sub,
		"SPYDER_ZEROMQ_MGMT_MASTER="+c.MPub,
		"SPYDER_ZEROMQ_MGMT_WORKER="+c.MSub,
		"SPYDER_LOG_FORMAT=json",
		"SPYDER_HEARTBEAT_INTERVAL=0.2",
		"SPYDER_FRONTIER_MIN_DELAY=0",
		"SPYDER_FRONTIER_CRAWL_DELAY_FACTOR=0",
		"SPYDER_MASTER_PROGRESS_INTERVAL=1",
		"SPYDER_REQUEST_TIMEOUT=5",
		"SPYDER_MASTER_LEASE_TIMEOUT=10",
		"SPYDER_STATE_DIR="+t.TempDir(),
		// Most sites here are two hosts with politeness off, crawled with
		// many requests in flight: single_host. Tests of per-host
		// politeness, and of the default, set multiple_host after this.
		"SPYDER_FRONTIER_CLASS=single_host",
	)
	c.Env = append(c.Env, extra...)
	return c
}

// Settings are the cluster's settings for a master or worker started in
// the test's process (StartMaster, StartWorker): the same SPYDER_*
// variables a process of the binary gets, plus extra ones.
func (c *Cluster) Settings(t testing.TB, extra ...string) *settings.Settings {
	t.Helper()
	var env []string
	for _, kv := range append(append([]string{}, c.Env...), extra...) {
		if strings.HasPrefix(kv, settings.EnvPrefix) {
			env = append(env, kv)
		}
	}
	s, err := settings.Load(settings.Source{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
