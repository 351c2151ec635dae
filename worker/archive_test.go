package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/settings"
)

// TestArchive: a fetch whose master asks for WARC records is written to
// the master's directory, or to the worker's own output_warc_dir when set;
// one without a response, or not asked for, is not; a directory that
// cannot be made is an error naming it (the result becomes an 810).
func TestArchive(t *testing.T) {
	page := func(dir string) *crawluri.CrawlUri {
		return &crawluri.CrawlUri{URL: "http://h.test/a", EffectiveURL: "http://h.test/a", StatusCode: 200, ArchiveDir: dir,
			RepHeader: map[string]string{"Content-Type": "text/html"}, ContentBody: []byte("<p>a</p>")}
	}
	tmp := t.TempDir()
	blocked := filepath.Join(tmp, "file")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, own string
		c         *crawluri.CrawlUri
		wantIn    string // directory that must hold the record, or ""
		wantErr   string
	}{
		{"master's directory", "", page(filepath.Join(tmp, "m")), filepath.Join(tmp, "m"), ""},
		{"worker's own", filepath.Join(tmp, "w"), page(filepath.Join(tmp, "m2")), filepath.Join(tmp, "w"), ""},
		{"not asked", "", page(""), "", ""},
		{"no response", "", &crawluri.CrawlUri{URL: "http://h.test/b", StatusCode: 599, Error: "refused", ArchiveDir: filepath.Join(tmp, "n")}, "", ""},
		{"blocked", "", page(filepath.Join(blocked, "warc")), "", "WARC directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := settings.Load(settings.Source{})
			if err != nil {
				t.Fatal(err)
			}
			s.OutputWARCDir = tc.own
			w := &Worker{s: s}
			err = w.archive(tc.c)
			if cerr := w.archives.close(); cerr != nil {
				t.Fatal(cerr)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantIn == "" {
				if _, err := os.Stat(tc.c.ArchiveDir); tc.c.ArchiveDir != "" && !os.IsNotExist(err) {
					t.Fatalf("%s was made: %v", tc.c.ArchiveDir, err)
				}
				return
			}
			records, err := testsite.ReadWARCDir(tc.wantIn)
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != 3 || records[2].Headers["warc-target-uri"] != "http://h.test/a" {
				t.Fatalf("records %v: want warcinfo, request, response of http://h.test/a", records)
			}
			if _, _, body, err := records[2].Response(); err != nil || string(body) != "<p>a</p>" {
				t.Fatalf("response body %q, %v", body, err)
			}
		})
	}
}
