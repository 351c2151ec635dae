// cssextract.go: css_extract, fields taken from HTML pages by CSS
// selectors (settings' css_extract), for the outputs' fields.

package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

func init() { Register("css_extract", newCSSExtract) }

// A cssField is one field of css_extract: a name, a compiled selector, the
// attribute to read (empty: the text), and whether every match is taken.
type cssField struct {
	name string
	sel  cascadia.Sel
	attr string
	all  bool
}

// parseCSSFields reads css_extract's entries (settings.CSSExtractEntry:
// name=selector, name[]=selector for every match) and compiles their
// selectors: cascadia's, CSS Selectors Level 3 with jQuery's extensions.
// An @ after the selector's last ] or ) names the attribute to read.
func parseCSSFields(entries []string) ([]cssField, error) {
	var out []cssField
	seen := map[string]bool{}
	for _, e := range entries {
		name, expr, all, err := settings.CSSExtractEntry(e)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("%q: the field %s is named twice", e, name)
		}
		seen[name] = true
		f := cssField{name: name, all: all}
		if i := strings.LastIndexByte(expr, '@'); i > strings.LastIndexAny(expr, "])") {
			expr, f.attr = strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i+1:])
			if f.attr == "" {
				return nil, fmt.Errorf("%q: an attribute name after @", e)
			}
		}
		if f.sel, err = cascadia.Parse(expr); err != nil {
			return nil, fmt.Errorf("%q: the selector %q: %v", e, expr, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func newCSSExtract(s *settings.Settings) (Processor, error) {
	fields, err := parseCSSFields(s.CSSExtract)
	if err != nil {
		return nil, fmt.Errorf("%w: css_extract: %v", settings.ErrInvalid, err)
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: css_extract is in the pipeline but the css_extract setting names no field (name=selector)", settings.ErrInvalid)
	}
	return Func(func(_ context.Context, c *crawluri.CrawlUri) error {
		extractCSS(c, fields)
		return nil
	}), nil
}

// extractCSS sets each field of an HTML page's body (a page of another
// type, or with no body, gets none); a field whose selector matches
// nothing is left unset, a list field with no match is [].
func extractCSS(c *crawluri.CrawlUri, fields []cssField) {
	if len(c.ContentBody) == 0 {
		return
	}
	if mt, _ := c.ContentType(); mt != "text/html" && mt != "application/xhtml+xml" {
		return
	}
	doc, err := html.Parse(bytes.NewReader(c.ContentBody))
	if err != nil {
		return // html.Parse fails only on its reader's errors
	}
	for _, f := range fields {
		if !f.all {
			if n := cascadia.Query(doc, f.sel); n != nil {
				c.SetVar(crawluri.FieldVar(f.name), f.value(n))
			}
			continue
		}
		values := []string{}
		for _, n := range cascadia.QueryAll(doc, f.sel) {
			values = append(values, f.value(n))
		}
		b, _ := json.Marshal(values)
		c.SetVar(crawluri.FieldVar(f.name), string(b))
	}
}

// value is n's attribute f.attr, or its text with whitespace collapsed.
func (f cssField) value(n *html.Node) string {
	if f.attr != "" {
		for _, a := range n.Attr {
			if strings.EqualFold(a.Key, f.attr) {
				return a.Val
			}
		}
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style"):
			return
		}
		// Words of two blocks (two list items, two cells) stay apart;
		// inline markup (caf<b>é</b>) joins its text.
		block := n.Type == html.ElementNode && blockElements[n.Data]
		if block {
			b.WriteByte(' ')
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
		if block {
			b.WriteByte(' ')
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// blockElements are the elements whose text is apart from its
// neighbours' when a field's text is taken.
var blockElements = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true, "br": true, "dd": true, "div": true,
	"dl": true, "dt": true, "figcaption": true, "figure": true, "footer": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "header": true, "hr": true, "li": true, "main": true,
	"nav": true, "ol": true, "option": true, "p": true, "pre": true, "section": true, "table": true,
	"td": true, "th": true, "tr": true, "ul": true,
}
