// e2e_extract_test.go: fields extracted by css_extract, written to JSON
// Lines and CSV.

package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestExtractedFieldsOut crawls the test site with css_extract taking
// each page's title, its heading and the list of its links' texts: every
// page's JSON line has them under fields (the list as an array), and the
// CSV file has a header and one row per page with the same values.
func TestExtractedFieldsOut(t *testing.T) {
	site := startSiteOn(t, []string{"127.0.0.2"}, 6, 0)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	c := newCluster(t, "SPYDER_FRONTIER_MIN_DELAY=0",
		`SPYDER_CSS_EXTRACT=["title=title", "heading=h1", "items[]=ul li a"]`,
		`SPYDER_SPYDER_EXTRACTOR_PIPELINE=["limiter", "html_link_extractor", "http_extractor", "css_extract"]`)
	w := start(t, "worker", c.Env, "worker")
	m := start(t, "master", c.Env, "master", "--until-done", "--seeds", seeds, "--out", dir+"/pages.jsonl", "--output-csv", dir+"/pages.csv")
	waitClean(t, m, w)

	pages := 0
	want := map[string][]string{} // url: title, heading
	for _, rec := range readJSONL(t, dir+"/pages.jsonl") {
		url, _ := rec["url"].(string)
		if rec["status"] != float64(200) || strings.HasSuffix(url, "robots.txt") {
			if rec["fields"] != nil {
				t.Errorf("%s (status %v) has fields %v", url, rec["status"], rec["fields"])
			}
			continue
		}
		pages++
		f, _ := rec["fields"].(map[string]any)
		title, _ := f["title"].(string)
		heading, _ := f["heading"].(string)
		items, ok := f["items"].([]any)
		if title == "" || heading != title+" on host 0" || !ok || len(items) == 0 {
			t.Errorf("%s: fields %v", url, rec["fields"])
		}
		want[url] = []string{title, heading, fmt.Sprint(len(items))}
	}
	if pages < 6 {
		t.Fatalf("%d pages with fields", pages)
	}

	file, err := os.Open(dir + "/pages.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	rows, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "url,status,content_type,bytes,fetch_time,time,title,heading,items" {
		t.Fatalf("CSV header %v", rows)
	}
	seen := 0
	for _, row := range rows[1:] {
		w, ok := want[row[0]]
		if !ok {
			continue
		}
		seen++
		if row[1] != "200" || row[2] != "text/html" || row[6] != w[0] || row[7] != w[1] || !strings.HasPrefix(row[8], `["`) {
			t.Errorf("CSV row %v, the JSON line had %v", row, w)
		}
	}
	if seen != pages || len(rows)-1 != len(readJSONL(t, dir+"/pages.jsonl")) {
		t.Errorf("%d CSV rows for %d pages (%d rows, %d JSON lines)", seen, pages, len(rows)-1, len(readJSONL(t, dir+"/pages.jsonl")))
	}
}
