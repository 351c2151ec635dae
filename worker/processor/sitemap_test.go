package processor

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

const urlset = `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>http://h.test/old</loc><lastmod>2020-01-01</lastmod></url>
  <url><loc> http://h.test/undated </loc></url>
  <url><loc>http://h.test/new</loc><lastmod>2026-11-30T10:00:00+01:00</lastmod><changefreq>daily</changefreq></url>
  <url><loc>/relative</loc><lastmod>2024-05</lastmod></url>
  <url><loc>mailto:x@h.test</loc></url>
</urlset>`

const index = `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>http://h.test/s1.xml.gz</loc></sitemap>
  <sitemap><loc>http://h.test/s2.xml</loc><lastmod>2026-01-01</lastmod></sitemap>
</sitemapindex>`

// TestSitemapProcessor: what the processor makes of each kind of response.
func TestSitemapProcessor(t *testing.T) {
	bomb := gzipped(t, bytes.Repeat([]byte{' '}, 2<<20)) // 2 MiB of nothing, in a few KiB
	many := "<urlset>"
	for i := range 12 {
		many += fmt.Sprintf("<url><loc>http://h.test/%d</loc></url>", i)
	}
	many += "</urlset>"
	xmlType := map[string]string{"Content-Type": "application/xml"}
	cases := []struct {
		name      string
		url       string
		rep       map[string]string
		body      []byte
		truncated bool
		wantLinks []string
		wantKind  string
		wantErr   string // in VarSitemapError
		// wantLastMods: VarSitemapLastMod, the dated links' <lastmod>
		wantLastMods string
	}{
		{name: "urlset, newest first", url: "http://h.test/sitemap.xml", rep: xmlType, body: []byte(urlset),
			wantLinks: []string{"http://h.test/new", "http://h.test/relative", "http://h.test/old", "http://h.test/undated"}, wantKind: "urlset",
			wantLastMods: "1796029200 1714521600 1577836800"},
		{name: "index", url: "http://h.test/index.xml", rep: xmlType, body: []byte(index),
			wantLinks: []string{"http://h.test/s2.xml", "http://h.test/s1.xml.gz"}, wantKind: "sitemapindex", wantLastMods: "1767225600"},
		{name: "gzipped, served as a file", url: "http://h.test/s1.xml.gz", rep: map[string]string{"Content-Type": "application/octet-stream"},
			body: gzipped(t, []byte(index)), wantLinks: []string{"http://h.test/s2.xml", "http://h.test/s1.xml.gz"}, wantKind: "sitemapindex",
			wantLastMods: "1767225600"},
		{name: "bad XML after some entries", url: "http://h.test/s.xml", rep: xmlType,
			body:      []byte(`<urlset><url><loc>http://h.test/a</loc></url><url><loc>http://h.test/b</loc></url><url><loc>http://h.test/c</lo`),
			wantLinks: []string{"http://h.test/a", "http://h.test/b"}, wantKind: "urlset", wantErr: "sitemap XML"},
		{name: "cut at max_content_length", url: "http://h.test/s.xml", rep: xmlType, truncated: true,
			body: []byte(`<urlset><url><loc>http://h.test/a</loc></url><url>`), wantLinks: []string{"http://h.test/a"}, wantKind: "urlset",
			wantErr: "cut at max_content_length"},
		{name: "gzip bomb", url: "http://h.test/bomb.xml.gz", body: bomb, wantErr: "larger than sitemap_max_size"},
		{name: "over the URL limit", url: "http://h.test/many.xml", rep: xmlType, body: []byte(many), wantKind: "urlset",
			wantLinks: []string{"http://h.test/0", "http://h.test/1", "http://h.test/2", "http://h.test/3", "http://h.test/4", "http://h.test/5", "http://h.test/6", "http://h.test/7", "http://h.test/8", "http://h.test/9"},
			wantErr:   "2 entries beyond sitemap_max_urls (10) dropped"},
		{name: "a feed is no sitemap and no error", url: "http://h.test/feed", rep: xmlType, body: []byte(`<rss><channel><link>http://h.test/x</link></channel></rss>`)},
		{name: "a .xml that is no sitemap", url: "http://h.test/sitemap.xml", rep: map[string]string{"Content-Type": "text/html"},
			body: []byte(`<html><body>Not found</body></html>`), wantErr: "not a sitemap"},
		{name: "not XML at a sitemap's name", url: "http://h.test/sitemap.xml", body: []byte("{}"), wantErr: "not a sitemap"},
		{name: "HTML page", url: "http://h.test/page", rep: map[string]string{"Content-Type": "text/html"}, body: []byte(`<urlset><url><loc>http://h.test/x</loc></url></urlset>`)},
		{name: "robots.txt", url: "http://h.test/robots.txt", rep: map[string]string{"Content-Type": "text/plain"},
			body:      []byte("User-agent: *\nDisallow: /private\nSitemap: http://h.test/index.xml # the index\nsitemap:/s2.xml\nSitemap: ftp://h.test/x\n"),
			wantLinks: []string{"http://h.test/index.xml", "http://h.test/s2.xml"}, wantKind: "robots"},
	}
	p := &sitemapProcessor{maxURLs: 10, maxSize: 1 << 20}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &crawluri.CrawlUri{URL: tc.url, EffectiveURL: tc.url, StatusCode: 200, RepHeader: tc.rep, ContentBody: tc.body}
			if tc.truncated {
				c.SetVar(crawluri.VarTruncated, crawluri.VarTrue)
			}
			if err := p.Process(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if got := c.ExtractedURLs(); fmt.Sprint(got) != fmt.Sprint(tc.wantLinks) && len(got)+len(tc.wantLinks) > 0 {
				t.Errorf("links %v, want %v", got, tc.wantLinks)
			}
			if got := c.Var(crawluri.VarSitemap); got != tc.wantKind {
				t.Errorf("kind %q, want %q", got, tc.wantKind)
			}
			if got := c.Var(crawluri.VarSitemapLastMod); got != tc.wantLastMods {
				t.Errorf("lastmods %q, want %q", got, tc.wantLastMods)
			}
			got := c.Var(crawluri.VarSitemapError)
			if (tc.wantErr == "") != (got == "") || !strings.Contains(got, tc.wantErr) {
				t.Errorf("error %q, want one saying %q", got, tc.wantErr)
			}
		})
	}
}

// FuzzParseSitemap: no input makes the parser fail otherwise than with an
// error, or keep more than its limits allow.
func FuzzParseSitemap(f *testing.F) {
	f.Add([]byte(urlset))
	f.Add([]byte(index))
	f.Add(gzipped(f, []byte(urlset)))
	f.Add([]byte(`<urlset><url><loc>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sm, _ := ParseSitemap(b, 1<<16, 5)
		if len(sm.Entries) > 5 {
			t.Fatalf("%d entries past a limit of 5", len(sm.Entries))
		}
	})
}
