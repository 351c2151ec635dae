package processor

import (
	"bytes"
	"io"
	"net/url"
	"slices"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/spyder-crawl/spyder/internal/testsite"
)

// referenceLinks is extractLinks on the tokenizer's own API, as it was
// written first: the body through charset.NewReader, each element's name
// from TagName. extractLinks reads names from the raw tag and does not
// decode a body that is UTF-8 (or ASCII) already; the links must be the
// same.
func referenceLinks(body []byte, contentType string, base *url.URL, tags map[string]string) []string {
	var r io.Reader = bytes.NewReader(body)
	if cr, err := charset.NewReader(r, contentType); err == nil {
		r = cr
	}
	return scanLinks(html.NewTokenizer(r), base, tags, func(z *html.Tokenizer) []byte {
		name, _ := z.TagName()
		return name
	})
}

var linkCorpus = []struct{ body, contentType string }{
	{string(testsite.BenchPage()), "text/html; charset=utf-8"},
	{string(testsite.BenchPage()), "text/html"},
	{`<A HREF="/x">x</A><Area Href=/y><LINK href=/z><iframe SRC=/f></iframe><frame src=/g>`, "text/html"},
	{`<a/href=/slash><a	href=/tab><a` + "\n" + `href=/nl><a href=/end`, "text/html"},
	{`<base href="http://other.example/dir/"><a href="rel">r</a><base href="/ignored/"><a href=/abs>`, "text/html"},
	{"<a\x00 href=/nul>n</a><a href=\"/v\x00al\">v</a><abbreviation href=/no>", "text/html"},
	{"<meta charset=iso-8859-1><a href=\"/caf\xe9\">c</a>", "text/html"},
	{"<a href=\"/caf\xe9\">no charset, not UTF-8</a>", "text/html"},
	{"<a href=\"/caf\xc3\xa9\">UTF-8 without a declaration</a>", "text/html"},
	{"<a href=\"/caf\xe9\">declared UTF-8, not UTF-8</a>", "text/html; charset=utf-8"},
	{"\xef\xbb\xbf<a href=/bom>bom</a>", "text/html; charset=iso-8859-1"},
	{"\xff\xfe<\x00a\x00 \x00h\x00r\x00e\x00f\x00=\x00/\x00u\x00>\x00", "text/html"},
	{"<a href=\"/x&amp;y&#x41;&lt;\">e</a><script>document.write('<a href=/in-script>')</script><!-- <a href=/comment> -->", "text/html; charset=windows-1252"},
	{"<a href=\"mailto:a@b\"><a href=\"javascript:x()\"><a href=\"ftp://f/\"><a href=\"//proto.example/rel\">", "text/html; charset=shift_jis"},
}

// TestExtractLinksMatchesTheTokenizersOwnAPI: the same links as the
// reference, over a corpus of charsets, cases and odd tags.
func TestExtractLinksMatchesTheTokenizersOwnAPI(t *testing.T) {
	tags, _ := ParseLinkTags(LinkTags())
	base, _ := url.Parse("http://h.example/d/p.html")
	for i, c := range linkCorpus {
		got := extractLinks([]byte(c.body), c.contentType, base, tags)
		want := referenceLinks([]byte(c.body), c.contentType, base, tags)
		if !slices.Equal(got, want) {
			t.Errorf("corpus %d (%q): got %q, want %q", i, c.contentType, got, want)
		}
	}
}

// FuzzExtractLinks checks the same on any body and content type.
func FuzzExtractLinks(f *testing.F) {
	for _, c := range linkCorpus {
		f.Add([]byte(c.body), c.contentType)
	}
	tags, _ := ParseLinkTags(LinkTags())
	base, _ := url.Parse("http://h.example/d/p.html")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		got := extractLinks(body, contentType, base, tags)
		want := referenceLinks(body, contentType, base, tags)
		if !slices.Equal(got, want) {
			t.Fatalf("body %q (%q): got %q, want %q", body, contentType, got, want)
		}
	})
}
