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

// referenceLinks is extractLinks on x/net/html's tokenizer and its own
// API, as it was written first: the body through charset.NewReader, each
// start tag's name from TagName, its attributes from TagAttr. extractLinks
// finds tags with its own scanner and does not decode a body that is UTF-8
// (or ASCII) already; the links must be the same.
func referenceLinks(body []byte, contentType string, base *url.URL, tags map[string]string) []string {
	var r io.Reader = bytes.NewReader(body)
	if cr, err := charset.NewReader(r, contentType); err == nil {
		r = cr
	}
	z := html.NewTokenizer(r)
	links := newLinkSet(base)
	for {
		switch z.Next() {
		case html.ErrorToken:
			return links.links
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			want, ok := tags[string(name)]
			isBase := string(name) == "base"
			if isBase {
				want, ok = "href", true
			}
			if !ok {
				continue
			}
			if val, ok := attr(z, want); ok {
				links.add(isBase, val)
			}
		}
	}
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
	// Where tags start: script's escaped and double-escaped states, the
	// other raw text elements, comments, bogus comments, end tags with
	// quoted '>', odd attribute syntax.
	{`<script><!--<script>a</script><a href=/in-double></script>--></script><a href=/after-script>`, "text/html"},
	{`<script><!-- x --><a href=/s1></SCRIPT ><a href=/s2><script>a<!--b-->c<script x></script><a href=/s3>`, "text/html"},
	{`<script><!--<scripT/></script><a href=/s4><!-- - -- --><a href=/s5>`, "text/html"},
	{`<style>a</style x='>'><a href=/st></style><a href=/after-style>`, "text/html"},
	{`<title><a href=/in-title></title><a href=/after-title><textarea></TEXTAREA ><a href=/t2></textarea/><a href=/t3>`, "text/html"},
	{`<!--> <a href=/c1> <!---> <a href=/c2> <!-- --!> <a href=/c3> <!-- --!x --> <a href=/c4> <!-- --!-> <a href=/c5> --><a href=/c6>`, "text/html"},
	{`<!DOCTYPE html><?php echo '<a href=/pi>' ?><a href=/after-pi></ a href=/bogus><a href=/x></a b='>'><a href=/y></><a href=/z>`, "text/html"},
	{`<plaintext><a href=/never>`, "text/html"},
	{`<a href='/q>uoted' id=x><a =href=/eq><a hReF = "/spaced" HREF=/second><a href=/first href=/dup><a href= ><a href=/ok/>`, "text/html"},
	{`<noscript><a href=/ns></noscript><iframe src=/f><a href=/in-iframe></iframe><xmp><a href=/x></xmp><noframes><a href=/nf></noframes ><a href=/end>`, "text/html"},
	{"<a href=\"/cr\r\nlf\"><a href='/tab\there'><a\fhref=/ff><a href=/last", "text/html"},
	{`<a href="/e?a=1&amp;b=2&#38;c=3&#x26;d&=&"><a href="/f?a&copy=1&ampx&amp;&copy;&notit;&AMP;"><a href="/g?&#0;&#xD800;&#1114112;&#">`, "text/html"},
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

// FuzzResolve holds resolve's joining of plain paths to the parser's
// resolution of any link against any base.
func FuzzResolve(f *testing.F) {
	for _, s := range [][2]string{
		{"http://h.example/d/p.html", "q.html"}, {"http://h.example/d/p.html?x=1", "/a/b?c=d"}, {"https://h:8443/", "x/y/"},
		{"http://h/d/", "../up"}, {"http://h/d/", "./same"}, {"http://h/d/", "//other/x"}, {"http://h/d/", "?q"}, {"http://h/d/", "#f"},
		{"http://h/d/", "mailto:a@b"}, {"http://h/d/", "a:b"}, {"http://h/d/", "a b"}, {"http://h/d/", "%7e"}, {"http://h/d//", "x"},
		{"http://h/a/./b", "c"}, {"http://H/d/", "c"}, {"http://h/d/", "http://o/x"}, {"http://h", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rawBase, link string) {
		base, err := url.Parse(rawBase)
		if err != nil || link == "" {
			return
		}
		got := newResolver(base).resolve(link)
		if want := resolveParsed(base, link); got != want {
			t.Fatalf("base %q, link %q: resolve %q, the parser %q", rawBase, link, got, want)
		}
	})
}

// TestResolveJoinsPlainPaths: the shortcut fires on the links pages have
// most, not only agrees when it does.
func TestResolveJoinsPlainPaths(t *testing.T) {
	base, _ := url.Parse("http://h.example/d/p.html?x=1")
	r := newResolver(base)
	if r.origin != "http://h.example" || r.dir != "http://h.example/d/" {
		t.Fatalf("origin %q, dir %q", r.origin, r.dir)
	}
	for link, want := range map[string]string{"/a/b.html": "http://h.example/a/b.html", "q.html?y=2": "http://h.example/d/q.html?y=2", "sub/": "http://h.example/d/sub/"} {
		if got := r.resolve(link); got != want {
			t.Errorf("%q: %q, want %q", link, got, want)
		}
	}
	if newResolver(&url.URL{Scheme: "http", Host: "H", Path: "/"}).dir != "" {
		t.Error("a base not in canonical form joined links as strings")
	}
}
