// page.go: a realistic HTML page for the benchmarks.

package testsite

import (
	"bytes"
	_ "embed"
	"strings"
)

// BenchPage is a 20 KB HTML page with about 230 links, relative, with
// session ids, entities and fragments: the page the pipeline benchmarks
// process.
func BenchPage() []byte {
	var body strings.Builder
	body.WriteString("<html><head><title>t</title></head><body>")
	for i := 0; body.Len() < 20<<10; i++ {
		body.WriteString(`<p>Some text around a link <a href="/section/page-`)
		body.WriteString(strings.Repeat("x", i%7))
		body.WriteString(`.html?sid=12&amp;q=1#frag">link</a> and more text.</p>`)
	}
	body.WriteString("</body></html>")
	return []byte(body.String())
}

// sitePage is a page of the site bench/peers generates (host 8, page 17):
// 20 KB of prose in inline markup, 40 links, most from the root, some
// absolute to other hosts; no entities, fragments or session ids.
//
//go:embed sitepage.html
var sitePage []byte

// SitePage is a copy of that page: what a crawl of plain generated pages
// costs the pipeline, beside BenchPage's harder links.
func SitePage() []byte { return bytes.Clone(sitePage) }
