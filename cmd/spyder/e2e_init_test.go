package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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
	c.env = removeEnv(c.env, "SPYDER_STATE_DIR")      // the file's state_dir: state
	n := startIn(t, dir, "node", c.env, "node", "--config", "spyder.yaml", "--workers", "2", "--until-done")
	if code := n.wait(t, 120*time.Second); code != 0 {
		t.Fatalf("node exit code %d", code)
	}
	checkCrawl(t, site, dir+"/pages.jsonl")
	if _, err := os.Stat(dir + "/state"); err != nil {
		t.Fatalf("state directory: %v", err)
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
