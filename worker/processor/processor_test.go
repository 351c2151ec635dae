// processor_test.go: the processors, with spyder's vectors, and the pipeline's speed.

package processor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/testsite"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

func defaults(t *testing.T) *settings.Settings {
	t.Helper()
	s, err := settings.Load(settings.Source{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func build(t *testing.T, s *settings.Settings, names ...string) *Pipeline {
	t.Helper()
	p, err := Build(names, s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, p *Pipeline, c *crawluri.CrawlUri) *crawluri.CrawlUri {
	t.Helper()
	if err := p.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// spyderPage is the page of spyder's test_default_html_link_extractor.
const spyderPage = `<html><head></head><body>
<a href="http://www.google.de" title="ups"> viel text</a>
<a title="ups i did it again" href ="/relative.html">und mehr text</a>
<a href="evenmorerelative.html"/>
<a href="&#109;&#97;&#105;&#108;&#116;&#111;&#58;&#109;&#117;&#115;&#116;&#101;&#114;&#64;&#98;&#102;&#97;&#114;&#109;&#46;&#100;&#101;">mail</a>
</body></html>`

func TestHTMLLinkExtractorSpyderVectors(t *testing.T) {
	p := build(t, defaults(t), "html_link_extractor")
	page := func(body string, ct string) *crawluri.CrawlUri {
		return &crawluri.CrawlUri{
			URL: "http://www.bmg.bund.de/test/", EffectiveURL: "http://www.bmg.bund.de/test/", StatusCode: 200,
			RepHeader: map[string]string{"Content-Type": ct}, ContentBody: []byte(body),
		}
	}
	got := run(t, p, page(spyderPage, "text/html")).ExtractedURLs()
	want := []string{"http://www.google.de", "http://www.bmg.bund.de/relative.html", "http://www.bmg.bund.de/test/evenmorerelative.html"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("links\n got %q\nwant %q", got, want)
	}
	withBase := strings.Replace(spyderPage, "<head></head>", "<head><base href='http://www.bing.com' /></head>", 1)
	got = run(t, p, page(withBase, "text/html; charset=utf-8")).ExtractedURLs()
	want = []string{"http://www.google.de", "http://www.bing.com/relative.html", "http://www.bing.com/evenmorerelative.html"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("links with <base>\n got %q\nwant %q", got, want)
	}
	if got := run(t, p, page(spyderPage, "pille/palle")).ExtractedURLs(); got != nil {
		t.Fatalf("content type pille/palle extracted %q", got)
	}
	if got := run(t, p, page(spyderPage, "application/xhtml+xml")).ExtractedURLs(); len(got) != 3 {
		t.Fatalf("xhtml: %q", got)
	}
	// No Content-Type header: sniffed.
	noCT := page(spyderPage, "")
	delete(noCT.RepHeader, "Content-Type")
	if got := run(t, p, noCT).ExtractedURLs(); len(got) != 3 {
		t.Fatalf("sniffed html: %q", got)
	}
}

func TestHTMLLinkExtractorCharsetAndJunk(t *testing.T) {
	p := build(t, defaults(t), "html_link_extractor")
	latin1 := &crawluri.CrawlUri{
		URL: "http://x.example/dir/", StatusCode: 200,
		RepHeader:   map[string]string{"Content-Type": "text/html; charset=iso-8859-1"},
		ContentBody: []byte("<a href=\"caf\xe9.html\">x</a><a href='javascript:alert(1)'>j</a><a href=\"ftp://f/\">f</a><a href=\"#top\">t</a><a>none</a><a href=\"caf\xe9.html\">dup</a>"),
	}
	got := run(t, p, latin1).ExtractedURLs()
	want := []string{"http://x.example/dir/caf%C3%A9.html", "http://x.example/dir/#top"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	broken := &crawluri.CrawlUri{URL: "http://x.example/", StatusCode: 200, RepHeader: map[string]string{"Content-Type": "text/html"},
		ContentBody: []byte("<a href=\"/ok\"><<<<a href=/unquoted>\x00\xff<a href=\"/last")}
	if got := run(t, p, broken).ExtractedURLs(); len(got) < 2 || got[0] != "http://x.example/ok" || got[1] != "http://x.example/unquoted" {
		t.Fatalf("broken html: %q", got)
	}
}

func TestLimiter(t *testing.T) {
	p := build(t, defaults(t), "limiter", "html_link_extractor")
	c := &crawluri.CrawlUri{URL: "http://localhost/robots.txt", EffectiveURL: "http://127.0.0.1/robots.txt", StatusCode: 200,
		RepHeader: map[string]string{"Content-Type": "text/html"}, ContentBody: []byte(`<a href="/x">x</a>`)}
	run(t, p, c)
	if c.Var(crawluri.VarExtractionFinished) != "1" || c.ExtractedURLs() != nil {
		t.Fatalf("robots.txt: %+v", c.OptionalVars)
	}
	run(t, p, c)
	if c.Var(crawluri.VarExtractionFinished) != "1" {
		t.Fatal("not idempotent")
	}
}

func TestHTTPExtractorSpyderVectors(t *testing.T) {
	s := defaults(t)
	s.HTTPExtractor404Redirect = []string{"http://localhost/soft404"}
	p := build(t, s, "http_extractor")
	cases := []struct {
		status   int16
		location string
		want     []string
	}{
		{302, "http://localhost/redirected", []string{"http://localhost/redirected"}},
		{200, "http://localhost/redirected", nil},
		{303, "/index.html", []string{"http://localhost/index.html"}},
		{301, "/soft404", nil},
		{307, "", nil},
	}
	for _, tc := range cases {
		c := &crawluri.CrawlUri{URL: "http://localhost", StatusCode: tc.status, RepHeader: map[string]string{"Location": tc.location}}
		if got := run(t, p, c).ExtractedURLs(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d %q: got %q want %q", tc.status, tc.location, got, tc.want)
		}
	}
}

// TestHTTPExtractorResolvesAgainstTheEffectiveURL: after redirects the
// fetcher followed, a last 3xx's relative Location is relative to the URL
// that sent it, not to the URL first asked for.
func TestHTTPExtractorResolvesAgainstTheEffectiveURL(t *testing.T) {
	p := build(t, defaults(t), "http_extractor")
	c := &crawluri.CrawlUri{URL: "http://a.example/start", EffectiveURL: "http://b.example/dir/moved", StatusCode: 302,
		RepHeader: map[string]string{"Location": "next.html"}}
	if got := run(t, p, c).ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://b.example/dir/next.html"}) {
		t.Fatalf("got %q", got)
	}
	// A page's relative links too, when the fetcher followed redirects.
	page := &crawluri.CrawlUri{URL: "http://a.example/start", EffectiveURL: "http://b.example/dir/page", StatusCode: 200,
		RepHeader: map[string]string{"Content-Type": "text/html"}, ContentBody: []byte(`<a href="other.html">x</a>`)}
	if got := run(t, build(t, defaults(t), "html_link_extractor"), page).ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://b.example/dir/other.html"}) {
		t.Fatalf("page links: got %q", got)
	}
}

func TestRegexScoper(t *testing.T) {
	s := defaults(t)
	s.RegexScopePositive = []string{`^.*\.html`}
	s.RegexScopeNegative = []string{`^.*\.avi`}
	c := &crawluri.CrawlUri{URL: "http://a/"}
	c.SetExtractedURLs([]string{"http://www.google.de/index.html", "ftp://www.google.de/pillepalle.avi", "http://a/b.avi.html", "http://a/b.txt"})
	run(t, build(t, s, "regex_scoper"), c)
	if got := c.ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://www.google.de/index.html"}) { // b.avi.html: a negative prefix match, as re.match
		t.Fatalf("got %q", got)
	}
	// Without positive regexes the worker keeps everything but the negatives
	// (the master scopes to the seeds' hosts).
	s.RegexScopePositive = nil
	c.SetExtractedURLs([]string{"http://x/a", "http://x/b.avi"})
	run(t, build(t, s, "regex_scoper"), c)
	if got := c.ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://x/a"}) {
		t.Fatalf("got %q", got)
	}
}

func TestStripSessionIDsSpyderVectors(t *testing.T) {
	for _, in := range []string{
		"http://pREis.de/traeger/index.php?sid=8429fb3ae210a2a0e28800b7f48d90f2",
		"http://pREis.de/traeger/index.php?jsessionid=8429fb3ae210a2a0e28800b7f48d90f2",
		"http://pREis.de/traeger/index.php?phpsessid=8429fb3ae210a2a0e28800b7f48d90f2",
		"http://pREis.de/traeger/index.php?aspsessionid=8429fb3ae210a2a0e28800b7f48d90f2",
		"http://pREis.de/traeger/index.php?SID=8429fb3ae210a2a0e28800b7f48d90f2",
	} {
		if got := StripSessionIDs(in); got != "http://pREis.de/traeger/index.php?" {
			t.Errorf("StripSessionIDs(%q) = %q", in, got)
		}
	}
	if got := StripSessionIDs("http://a/x?sid=1&x=2"); got != "http://a/x?&x=2" {
		t.Errorf("middle parameter: %q", got)
	}
	p := build(t, defaults(t), "strip_session_ids", "cleanup_query_string")
	c := &crawluri.CrawlUri{URL: "http://a/"}
	c.SetExtractedURLs([]string{"http://pREis.de/index.php?sid=abc", "http://a/x"})
	if got := run(t, p, c).ExtractedURLs(); !reflect.DeepEqual(got, []string{"http://pREis.de/index.php", "http://a/x"}) {
		t.Fatalf("pipeline: %q", got)
	}
}

// TestCleanupQueryStringSpyderVectors: spyder's vectors, through the
// cleanup and then the canonical form that cuts fragments (the default);
// the cleanup alone leaves fragments to url_canonicalization.
func TestCleanupQueryStringSpyderVectors(t *testing.T) {
	for in, want := range map[string]string{
		"http://tesT.com/t.html?p=a#top": "http://test.com/t.html?p=a",
		"http://tesT.com/t.html?#top":    "http://test.com/t.html",
		"http://tesT.com/t.html?test=a&": "http://test.com/t.html?test=a",
		"http://tesT.com/t.html?utm=&#x": "http://test.com/t.html?utm=",
	} {
		got, err := urlx.Normalize(CleanupQueryString(in))
		if err != nil || got != want {
			t.Errorf("Normalize(CleanupQueryString(%q)) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"http://a/t.html?#top": "http://a/t.html#top",
		"http://a/t.html#x?":   "http://a/t.html#x?",
		"#only":                "#only",
	} {
		if got := CleanupQueryString(in); got != want {
			t.Errorf("CleanupQueryString(%q) = %q, want %q (fragments are canonicalization's)", in, got, want)
		}
	}
}

// Registered once per test binary: the registry is filled at init, as in
// production.
func init() {
	Register("test_panics", func(*settings.Settings) (Processor, error) {
		return Func(func(context.Context, *crawluri.CrawlUri) error { panic("kaputt") }), nil
	})
	Register("test_fails", func(*settings.Settings) (Processor, error) {
		return Func(func(context.Context, *crawluri.CrawlUri) error { return errors.New("nope") }), nil
	})
}

func TestPipelineErrorsAndPanics(t *testing.T) {
	s := defaults(t)
	for name, want := range map[string]string{"test_panics": "processor test_panics panicked: kaputt", "test_fails": "processor test_fails: nope"} {
		p := build(t, s, "limiter", name)
		c := &crawluri.CrawlUri{URL: "http://a/robots.txt", EffectiveURL: "http://a/robots.txt"}
		err := p.Run(context.Background(), c)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("%s: err = %v", name, err)
		}
		if c.Var(crawluri.VarExtractionFinished) != "1" {
			t.Fatal("the work of earlier processors was lost")
		}
	}
	if _, err := Build([]string{"limiter", "nope"}, s); err == nil || !strings.Contains(err.Error(), `"nope" is not registered`) {
		t.Fatalf("unknown processor: %v", err)
	}
}

// BenchmarkDefaultPipeline20KB runs every default processor on a 20 KB
// page of about 100 links.
func BenchmarkDefaultPipeline20KB(b *testing.B) {
	s, _ := settings.Load(settings.Source{})
	benchPipeline(b, s, append(append([]string{}, s.SpyderExtractorPipeline...), s.SpyderScoperPipeline...))
}

// BenchmarkDistinctLinks20KB is what the worker does after the pipeline on
// that page's links: canonicalize each, keep each once.
func BenchmarkDistinctLinks20KB(b *testing.B) {
	s, _ := settings.Load(settings.Source{})
	p, err := Build(append(append([]string{}, s.SpyderExtractorPipeline...), s.SpyderScoperPipeline...), s)
	if err != nil {
		b.Fatal(err)
	}
	c := &crawluri.CrawlUri{URL: "http://www.example.com/dir/index.html", EffectiveURL: "http://www.example.com/dir/index.html", StatusCode: 200,
		RepHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"}, ContentBody: testsite.BenchPage()}
	if err := p.Run(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	links := c.ExtractedURLs()
	b.ReportAllocs()
	for b.Loop() {
		c.SetExtractedURLs(links)
		DistinctLinks(c, urlx.FullCanonicalization())
	}
	b.ReportMetric(float64(len(links)), "links/page")
}

// BenchmarkHTMLLinkExtractor20KB is link extraction alone on that page.
func BenchmarkHTMLLinkExtractor20KB(b *testing.B) {
	s, _ := settings.Load(settings.Source{})
	benchPipeline(b, s, []string{"html_link_extractor"})
}

func benchPipeline(b *testing.B, s *settings.Settings, names []string) {
	benchPipelineOn(b, s, names, testsite.BenchPage())
}

// BenchmarkDefaultPipelineSitePage runs every default processor on a page
// of bench/peers's generated site: plain links, most of them from the root.
func BenchmarkDefaultPipelineSitePage(b *testing.B) {
	s, _ := settings.Load(settings.Source{})
	benchPipelineOn(b, s, append(append([]string{}, s.SpyderExtractorPipeline...), s.SpyderScoperPipeline...), testsite.SitePage())
}

func benchPipelineOn(b *testing.B, s *settings.Settings, names []string, page []byte) {
	p, err := Build(names, s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		c := &crawluri.CrawlUri{URL: "http://www.example.com/dir/index.html", EffectiveURL: "http://www.example.com/dir/index.html", StatusCode: 200,
			RepHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"}, ContentBody: page}
		if err := p.Run(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLinkExtractorTags: by default only <a href> is followed, as spyder
// did; html_link_extractor_tags adds <area>, <link>, <frame> and <iframe>.
func TestLinkExtractorTags(t *testing.T) {
	page := `<html><head><link rel="next" href="/next.html"><base href="http://h.test/dir/"></head><body>
<a href="a.html">a</a><map><area href="area.html"></map>
<frameset><frame src="frame.html"></frameset><iframe src="/iframe.html"></iframe>
<img src="img.png"><iframe>no source</iframe></body></html>`
	for _, tc := range []struct {
		tags []string
		want []string
	}{
		{nil, []string{"http://h.test/dir/a.html"}}, // the default: ["a"]
		{[]string{"a", "area", "link", "frame", "IFrame"}, []string{
			"http://h.test/next.html", "http://h.test/dir/a.html", "http://h.test/dir/area.html",
			"http://h.test/dir/frame.html", "http://h.test/iframe.html",
		}},
		{[]string{"iframe"}, []string{"http://h.test/iframe.html"}},
	} {
		s := defaults(t)
		if tc.tags != nil {
			s.HTMLLinkExtractorTags = tc.tags
		}
		c := &crawluri.CrawlUri{URL: "http://h.test/page", StatusCode: 200, ContentBody: []byte(page), RepHeader: map[string]string{"Content-Type": "text/html"}}
		run(t, build(t, s, "html_link_extractor"), c)
		if got := c.ExtractedURLs(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tags %v: links %v, want %v", tc.tags, got, tc.want)
		}
	}
	s := defaults(t)
	s.HTMLLinkExtractorTags = []string{"img"}
	if _, err := Build([]string{"html_link_extractor"}, s); err == nil || !strings.Contains(err.Error(), "img") {
		t.Fatalf("an unknown tag: %v", err)
	}
}

// TestStripQueryParams ports spyder 0.2.x's StripQueryParams
// (REMOVE_QUERY_NAMES), parsing the query instead of matching substrings.
func TestStripQueryParams(t *testing.T) {
	names := map[string]bool{"utm_source": true, "ref": true, "sessionid": true}
	for in, want := range map[string]string{
		"http://a/p?utm_source=x&id=1":           "http://a/p?id=1",
		"http://a/p?id=1&UTM_SOURCE=x&ref=y&b=2": "http://a/p?id=1&b=2",
		"http://a/p?ref=y":                       "http://a/p",
		"http://a/p?ref":                         "http://a/p",
		"http://a/p?utm%5Fsource=x&k=v":          "http://a/p?k=v",
		"http://a/p?preference=1":                "http://a/p?preference=1", // a name, not a substring
		"http://a/p?id=1&ref=2#top":              "http://a/p?id=1#top",
		"http://a/p":                             "http://a/p",
		"http://a/p?&&id=1&":                     "http://a/p?id=1",
	} {
		if got := StripQueryParams(in, names); got != want {
			t.Errorf("StripQueryParams(%q) = %q, want %q", in, got, want)
		}
	}
	// In the default pipeline, with names configured.
	s := defaults(t)
	s.RemoveQueryNames = []string{"utm_source"}
	c := &crawluri.CrawlUri{URL: "http://a/", StatusCode: 200}
	c.SetExtractedURLs([]string{"http://a/x?utm_source=feed", "http://a/y?utm_source=feed&z=1"})
	run(t, build(t, s, s.SpyderScoperPipeline[1:]...), c)
	if got, want := c.ExtractedURLs(), []string{"http://a/x", "http://a/y?z=1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pipeline: %v, want %v", got, want)
	}
}

// TestDistinctLinks: links leave the worker canonical and once each, in
// the order of their first occurrence; a link that cannot be canonicalized
// goes once, as it is, for the master to count.
func TestDistinctLinks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want []string
	}{
		{"none", nil, nil},
		{"repeats", []string{"http://a/1", "http://a/2", "http://a/1", "http://a/2"}, []string{"http://a/1", "http://a/2"}},
		{"canonical forms meet", []string{"HTTP://A:80/x#top", "http://a/./x", "http://a/%7ey", "http://a/~y"}, []string{"http://a/x", "http://a/~y"}},
		{"invalid kept once", []string{"mailto:x@y", "http://a/", "mailto:x@y"}, []string{"mailto:x@y", "http://a/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &crawluri.CrawlUri{URL: "http://a/"}
			c.SetExtractedURLs(tc.in)
			DistinctLinks(c, urlx.FullCanonicalization())
			if got := c.ExtractedURLs(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// 15,000 links, 500 distinct: all 500 leave, in order.
	var in []string
	for i := 0; i < 15000; i++ {
		in = append(in, fmt.Sprintf("http://a/%d", i%500))
	}
	c := &crawluri.CrawlUri{URL: "http://a/"}
	c.SetExtractedURLs(in)
	DistinctLinks(c, urlx.FullCanonicalization())
	if got := c.ExtractedURLs(); len(got) != 500 || got[499] != "http://a/499" {
		t.Fatalf("%d links, last %q", len(got), got[len(got)-1])
	}
}
