package master

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

// TestCSVSinkResumes: a new file gets the header; a resumed crawl appends
// under it, without a row a kill cut in two; a file with other columns is
// refused, naming both; a line break in a field stays in its row.
func TestCSVSinkResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	fields := outputFields{names: []string{"title", "tags"}, lists: map[string]bool{"tags": true}}
	s, err := NewCSVSink(path, fields)
	if err != nil {
		t.Fatal(err)
	}
	c := &crawluri.CrawlUri{URL: "http://h.test/a", StatusCode: 200, ContentBody: []byte("<p>"),
		OptionalVars: map[string]string{crawluri.FieldVar("title"): "Two\nlines, \"quoted\"", crawluri.FieldVar("tags"): `["x","y"]`}}
	if err := s.ProcessSuccessfulCrawl(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`http://h.test/cut,20`) // what a kill -9 leaves
	f.Close()

	s, err = NewCSVSink(path, fields)
	if err != nil {
		t.Fatal(err)
	}
	c.URL = "http://h.test/b"
	if err := s.ProcessNotFound(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "url,status,content_type,bytes,fetch_time,time,title,tags" ||
		!strings.HasPrefix(lines[1], "http://h.test/a,200,") || !strings.HasSuffix(lines[1], `,"Two lines, ""quoted""","[""x"",""y""]"`) ||
		!strings.HasPrefix(lines[2], "http://h.test/b,") {
		t.Fatalf("file:\n%s", b)
	}

	_, err = NewCSVSink(path, outputFields{names: []string{"price"}})
	if !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), "title,tags") || !strings.Contains(err.Error(), "price") {
		t.Errorf("other columns: %v", err)
	}
}
