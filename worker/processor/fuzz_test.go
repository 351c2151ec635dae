// fuzz_test.go: fuzzing the default pipeline.

package processor

import (
	"context"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/fuzzmem"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/settings"
)

// FuzzDefaultPipeline: any body, with any content type, goes through the
// default processors (link extraction with every tag, scoping, cleanup)
// without a panic, and what comes out is absolute http(s) links no longer
// than the page could hold.
func FuzzDefaultPipeline(f *testing.F) {
	s, err := settings.Load(settings.Source{Flags: map[string]any{"html_link_extractor_tags": []string{"a", "area", "frame", "iframe", "link"}}})
	if err != nil {
		f.Fatal(err)
	}
	p, err := Build(append(append([]string{}, s.SpyderExtractorPipeline...), s.SpyderScoperPipeline...), s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(testsite.BenchPage(), "text/html; charset=utf-8")
	f.Add([]byte(`<base href="http://h/x/"><a href="../a?b=1&amp;sid=2#f">x</a><a href="mailto:x">`), "text/html")
	f.Add([]byte("<meta charset=latin1><a href=\xff\xfe>\x00</a>"), "text/html; charset=bogus")
	f.Add([]byte("<<<a href='//[::1]:80/'>"), "application/xhtml+xml")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		c := &crawluri.CrawlUri{URL: "http://h.test/dir/page.html", EffectiveURL: "http://h.test/dir/page.html", StatusCode: 200,
			RepHeader: map[string]string{"Content-Type": contentType}, ContentBody: body}
		// Errors are results too; a panic is not, nor an allocation out of
		// proportion to the page.
		fuzzmem.Check(t, len(body)+len(contentType), 1024, 4<<20, func() { _ = p.Run(context.Background(), c) })
		for _, l := range c.ExtractedURLs() {
			if len(l) > len(body)+len(c.URL)+64 {
				t.Fatalf("a link longer than the page could make: %d bytes", len(l))
			}
		}
	})
}
