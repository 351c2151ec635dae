package processor

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

// TestCSSExtract: each kind of entry against one page, and pages that are
// not HTML left alone.
func TestCSSExtract(t *testing.T) {
	page := `<html><head><title> The  Club </title><style>p{}</style></head><body>
<h1>Caf<b>é</b> racers</h1>
<ul class="boats"><li>Wave</li><li>Gull <script>x()</script></li></ul>
<a href="/a" data-id="1">A</a><a href="mailto:x@y.test">mail</a>
<img src="/hero.jpg" alt="Hero">
</body></html>`
	s := settings.Defaults()
	s.CSSExtract = []string{
		"title=title",
		"heading = h1",
		"boats[]=ul.boats li",
		"hero=img@src",
		"mail=a[href^=\"mailto:x@\"]@href",
		"ids[]=a@data-id",
		"missing=table",
		"none[]=table td",
	}
	p, err := newCSSExtract(&s)
	if err != nil {
		t.Fatal(err)
	}
	c := &crawluri.CrawlUri{URL: "http://h.test/", StatusCode: 200, ContentBody: []byte(page),
		RepHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"}}
	if err := p.Process(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"title":   "The Club",
		"heading": "Café racers",
		"boats":   `["Wave","Gull"]`,
		"hero":    "/hero.jpg",
		"mail":    "mailto:x@y.test",
		"ids":     `["1",""]`,
		"none":    `[]`,
	} {
		if got := c.Var(crawluri.FieldVar(name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := c.OptionalVars[crawluri.FieldVar("missing")]; ok {
		t.Errorf("a field that matched nothing was set")
	}

	for _, ct := range []string{"application/json", "text/plain"} {
		other := &crawluri.CrawlUri{URL: "http://h.test/x", StatusCode: 200, ContentBody: []byte(page), RepHeader: map[string]string{"Content-Type": ct}}
		if err := p.Process(context.Background(), other); err != nil || len(other.OptionalVars) != 0 {
			t.Errorf("%s: vars %v, err %v", ct, other.OptionalVars, err)
		}
	}
}

// TestCSSExtractSettings: what is wrong with a css_extract entry is said,
// as an invalid setting.
func TestCSSExtractSettings(t *testing.T) {
	for _, tc := range []struct {
		entries []string
		want    string
	}{
		{[]string{"title"}, "want name=selector"},
		{[]string{"title="}, "want name=selector"},
		{[]string{"1st=h1"}, "must be letters"},
		{[]string{"a b=h1"}, "must be letters"},
		{[]string{"t=h1", "t=h2"}, "named twice"},
		{[]string{"t=div[["}, "the selector"},
		{[]string{"t=img@"}, "attribute name"},
		{nil, "names no field"},
	} {
		s := settings.Defaults()
		s.CSSExtract = tc.entries
		_, err := newCSSExtract(&s)
		if err == nil || !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an invalid setting saying %q", tc.entries, err, tc.want)
		}
	}
	s := settings.Defaults()
	s.CSSExtract = []string{"a=h1", "b[]=li", "c=img@src"}
	if got := s.OutputFieldNames(); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("OutputFieldNames = %v", got)
	}
	s.OutputFields = []string{"c", "z"}
	if got := s.OutputFieldNames(); strings.Join(got, ",") != "c,z" {
		t.Errorf("OutputFieldNames with output_fields = %v", got)
	}
}
