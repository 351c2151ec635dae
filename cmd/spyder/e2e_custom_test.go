// e2e_custom_test.go: examples/custom built and run: a user's own binary with every command and its parts.

package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/events"
)

// TestCustomBinary builds examples/custom, a module of its own whose main
// is spyder.Main with a title processor and a CSV sink registered, and
// checks what its README promises: every spyder command is there, and a
// crawl with the example's settings writes url, status and title of every
// page to the CSV, beside the JSON Lines output and with the seeds of the
// seedfile callback (a sink no longer replaces it).
func TestCustomBinary(t *testing.T) {
	example, err := filepath.Abs("../../examples/custom")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "spyder-custom")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Dir = example
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building examples/custom: %v\n%s", err, out)
	}

	help := func(program string) string {
		out, err := exec.Command(program, "help").Output()
		if err != nil {
			t.Fatalf("%s help: %v", program, err)
		}
		return string(out)
	}
	if got, want := help(bin), help(spyderBin); got != want {
		t.Fatalf("spyder-custom help differs from spyder's:\n%s\nwant:\n%s", got, want)
	}

	site := startSite(t, 12, 0)
	dir := t.TempDir()
	// The example's own settings file, from its own directory, as its
	// README runs it (the paths in it are relative to it).
	work := filepath.Join(dir, "custom")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(example, "spyder.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, work, "spyder.yaml", string(conf))
	writeFile(t, work, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t)
	n := startCmdIn(t, work, "spyder-custom", c.Env, bin, "node", "--workers", "1", "--until-done",
		"--config", "spyder.yaml", "--seeds", "seeds.txt", "--state-dir", "out/state")
	if code := n.Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("spyder-custom node exit code %d", code)
	}

	f, err := os.Open(filepath.Join(work, "out/titles.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("titles.csv: %v", err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "url,status,title" {
		t.Fatalf("titles.csv has no header: %q", rows)
	}
	titles := map[string]string{}
	for _, r := range rows[1:] {
		if r[1] == "200" {
			titles[r[0]] = r[2]
		}
	}
	pages := 0
	for _, u := range site.Expected() {
		want, isPage := site.Title(u)
		if !isPage {
			continue // robots.txt, a 404
		}
		pages++
		if got, ok := titles[u]; !ok || got != want {
			t.Errorf("%s: title %q in the CSV (listed %v), want %q", u, got, ok, want)
		}
	}
	if pages < 20 {
		t.Fatalf("only %d pages checked: %v", pages, site.Expected())
	}
	sums := n.Find(event(events.CrawlSummary))
	if len(sums) != 1 || fmt.Sprint(sums[0]["summary"].(map[string]any)["outputs"]) != "[out/pages.jsonl out/titles.csv]" {
		t.Errorf("the summary does not list both outputs, in master_sinks order: %v", sums)
	}
	if recs := readJSONL(t, filepath.Join(work, "out/pages.jsonl")); len(recs) != len(rows)-1 {
		t.Errorf("pages.jsonl has %d records, titles.csv %d rows: both sinks get every result", len(recs), len(rows)-1)
	}
}
