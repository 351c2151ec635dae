// e2e_init_test.go: spyder init, then the crawl its README describes.

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
)

// TestInitThenCrawl: `spyder init DIR` writes a config every command
// reads, a seeds file and a README; the crawl the README describes runs
// from DIR as written (with the test's addresses from the environment),
// and init refuses to overwrite without --force.
func TestInitThenCrawl(t *testing.T) {
	site := startSite(t, 10, 0)
	dir := t.TempDir() + "/crawl"
	out, err := exec.Command(spyderBin, "init", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "spyder node --config spyder.yaml") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	config, err := os.ReadFile(dir + "/spyder.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# minimum time between two requests to the same host", "frontier_min_delay: 5\n",
		"seeds_file: seeds.txt\n", "output_jsonl: pages.jsonl\n", "state_dir: state\n", "obey_robots_txt: true\n", "# connect_timeout: 20\n"} {
		if !strings.Contains(string(config), want) {
			t.Errorf("spyder.yaml lacks %q", want)
		}
	}
	readme, _ := os.ReadFile(dir + "/README.md")
	if !strings.Contains(string(readme), "spyder node --config spyder.yaml --workers 2 --until-done") {
		t.Errorf("README:\n%s", readme)
	}
	if out, err := exec.Command(spyderBin, "init", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "exists; use --force") {
		t.Fatalf("second init: %v %s", err, out)
	}
	if out, err := exec.Command(spyderBin, "init", "--force", dir).CombinedOutput(); err != nil {
		t.Fatalf("init --force: %v %s", err, out)
	}
	writeFile(t, dir, "seeds.txt", "# the test site\n"+strings.Join(site.Seeds(), "\n")+"\n")

	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0") // the environment overrides the file
	c.Env = removeEnv(c.Env, "SPYDER_STATE_DIR")      // the file's state_dir: state
	n := startIn(t, dir, "node", c.Env, "node", "--config", "spyder.yaml", "--workers", "2", "--until-done")
	if code := n.Wait(t, 120*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	checkCrawl(t, site, dir+"/pages.jsonl")
	if _, err := os.Stat(dir + "/state"); err != nil {
		t.Fatalf("state directory: %v", err)
	}

	// The same command again: the crawl is done. The node says so (how
	// many URLs, where the state is, how to crawl again) and exits 0 at
	// once; it once left a worker waiting for a master and exited 1.
	began := time.Now()
	again := startIn(t, dir, "node again", c.Env, "node", "--config", "spyder.yaml", "--workers", "2", "--until-done")
	if code := again.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("node on a finished crawl: exit code %d", code)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("node on a finished crawl took %v", took)
	}
	if !strings.Contains(again.Text(), "this crawl is already done: all ") || !strings.Contains(again.Text(), "use a new state_dir") {
		t.Errorf("the node does not say the crawl is done:\n%s", again.Text())
	}
	requests := len(site.Log())

	// From the parent directory, with the config file's path: its
	// relative paths are relative to the file (state, seeds, output), not
	// to where spyder runs.
	parent := filepath.Dir(dir)
	m := startIn(t, parent, "master from the parent", c.Env, "master", "--config", "crawl/spyder.yaml", "--until-done")
	if code := m.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("master from the parent: exit code %d", code)
	}
	done := m.Find(event(events.NothingToCrawl))
	if len(done) != 1 || done[0]["state_dir"] != "crawl/state" {
		t.Fatalf("master from the parent did not find crawl/state: %v", done)
	}
	for _, stray := range []string{"state", "seeds.txt", "pages.jsonl"} {
		if _, err := os.Stat(filepath.Join(parent, stray)); err == nil {
			t.Errorf("%s was made in the directory spyder ran in", stray)
		}
	}
	if len(site.Log()) != requests {
		t.Errorf("a finished crawl requested %d pages again", len(site.Log())-requests)
	}
}

func removeEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}
