// grafana_test.go: the Grafana dashboard and the compose profile that
// provisions it hold together, and every series it queries is one that
// spyder serves.

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
	"go.yaml.in/yaml/v3"

	"github.com/spyder-crawl/spyder/internal/redistest"
)

const monitoring = "../../examples/monitoring/"

// readYAML decodes a file of the repository.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestGrafanaDashboard checks, without Grafana, what its provisioning
// would: the dashboard JSON is a dashboard (uid, title, schema, panels
// with queries), its panels use the datasource the provisioning defines,
// which points at the compose profile's Prometheus; the dashboards
// provider reads the directory compose mounts; every job a query selects
// is one Prometheus scrapes; and every spyder series a query names is
// served by a master (on Redis, where all of them exist) or a worker
// during a crawl.
func TestGrafanaDashboard(t *testing.T) {
	var dash struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Panels        []struct {
			Type       string            `json:"type"`
			Title      string            `json:"title"`
			Datasource map[string]string `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	raw, err := os.ReadFile(monitoring + "grafana/dashboards/spyder.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("spyder.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion < 30 || len(dash.Panels) < 10 {
		t.Fatalf("spyder.json: uid %q, title %q, schema %d, %d panels", dash.UID, dash.Title, dash.SchemaVersion, len(dash.Panels))
	}

	var sources struct {
		Datasources []struct{ Name, UID, Type, URL string } `yaml:"datasources"`
	}
	readYAML(t, monitoring+"grafana/provisioning/datasources/prometheus.yml", &sources)
	if len(sources.Datasources) != 1 || sources.Datasources[0].Type != "prometheus" || sources.Datasources[0].URL != "http://prometheus:9090" {
		t.Fatalf("datasources: %+v; want the compose profile's Prometheus", sources.Datasources)
	}
	uid := sources.Datasources[0].UID
	var providers struct {
		Providers []struct {
			Type    string            `yaml:"type"`
			Options map[string]string `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, monitoring+"grafana/provisioning/dashboards/spyder.yml", &providers)
	var compose struct {
		Services map[string]struct {
			Profiles []string `yaml:"profiles"`
			Volumes  []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	readYAML(t, "../../docker-compose.yml", &compose)
	grafana := compose.Services["grafana"]
	if len(providers.Providers) != 1 || providers.Providers[0].Type != "file" ||
		!slices.Contains(grafana.Volumes, "./examples/monitoring/grafana/dashboards:"+providers.Providers[0].Options["path"]+":ro") ||
		!slices.Contains(grafana.Volumes, "./examples/monitoring/grafana/provisioning:/etc/grafana/provisioning:ro") {
		t.Fatalf("dashboard providers %+v do not read what compose mounts: %v", providers.Providers, grafana.Volumes)
	}
	for _, svc := range []string{"grafana", "prometheus"} {
		if !slices.Contains(compose.Services[svc].Profiles, "monitoring") {
			t.Errorf("compose service %s is not in the monitoring profile", svc)
		}
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, monitoring+"prometheus.yml", &prom)
	jobs := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		jobs[sc.JobName] = true
	}

	// The series a crawl serves: a master on Redis and a worker.
	node := redistest.StartRedis(t)
	site := startSite(t, 20, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_METRICS_LISTEN=127.0.0.1:0", "SPYDER_FRONTIER_STORE=redis", "SPYDER_FRONTIER_REDIS_ADDRS="+node.Addr,
		"SPYDER_STATE_DIR=", "SPYDER_FRONTIER_CLASS=multiple_host")
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--seeds", seeds)
	maddr, waddr := metricsAddr(t, m), metricsAddr(t, w)
	waitUntil(t, 30*time.Second, "the site crawled", func() bool { return len(site.Counts()) >= len(site.Expected()) })
	// A stranger's frame on the management bus: a dropped message, so that
	// the drops' series exists.
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer zctx.Term()
	junk, err := zctx.NewSocket(zmq.PUB)
	if err != nil {
		t.Fatal(err)
	}
	junk.SetLinger(0)
	defer junk.Close()
	if err := junk.Connect(c.MSub); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	typeLine := regexp.MustCompile(`(?m)^# TYPE (spyder_[a-z_]+) (\w+)`)
	waitUntil(t, 10*time.Second, "the stranger's frame counted as a drop", func() bool {
		junk.SendBytes([]byte("not a result"), 0)
		for _, addr := range []string{maddr, waddr} {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, mt := range typeLine.FindAllStringSubmatch(string(body), -1) {
				served[mt[1]] = true
			}
		}
		return served["spyder_master_dropped_messages_total"]
	})
	m.Signal(syscall.SIGTERM)
	waitClean(t, m, w)

	series := regexp.MustCompile(`spyder_[a-z_]+`)
	job := regexp.MustCompile(`job="([^"]+)"`)
	queried := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource["uid"] != uid || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %v, %d queries; want uid %q and a query", p.Title, p.Datasource, len(p.Targets), uid)
		}
		for _, target := range p.Targets {
			for _, name := range series.FindAllString(target.Expr, -1) {
				queried++
				if base := strings.TrimSuffix(name, "_bucket"); !served[base] {
					t.Errorf("panel %q queries %s, which no master or worker serves", p.Title, name)
				}
			}
			for _, mt := range job.FindAllStringSubmatch(target.Expr, -1) {
				if !jobs[mt[1]] {
					t.Errorf("panel %q selects job %q, which prometheus.yml does not scrape", p.Title, mt[1])
				}
			}
		}
	}
	if queried < 20 {
		t.Fatalf("%d series queried in the dashboard", queried)
	}
}
