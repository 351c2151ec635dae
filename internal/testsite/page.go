// page.go: a realistic HTML page for the benchmarks.

package testsite

import "strings"

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
