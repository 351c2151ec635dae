// htmllinks.go: link extraction from HTML with x/net/html's tokenizer.

package processor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/spyder-crawl/spyder/crawluri"
)

// htmlContentTypes are the media types links are extracted from.
var htmlContentTypes = map[string]bool{
	"text/html":                     true,
	"application/xhtml":             true,
	"application/xhtml+xml":         true,
	"text/vnd.wap.wml":              true,
	"application/vnd.wap.wml":       true,
	"application/vnd.wap.xhtm":      true,
	"application/vnd.wap.xhtml+xml": true,
}

// extractHTMLLinks is spyder's DefaultHtmlLinkExtractor on a real HTML
// tokenizer: links of <a href> resolved against the page URL or the first
// <base href>, entities decoded, the body decoded from its charset (header,
// BOM or <meta>), mailto:, javascript: and other non-http links dropped.
func extractHTMLLinks(_ context.Context, c *crawluri.CrawlUri, tags map[string]string) error {
	if c.Var(crawluri.VarExtractionFinished) == crawluri.VarTrue || len(c.ContentBody) == 0 {
		return nil
	}
	mt, _ := c.ContentType()
	if !htmlContentTypes[mt] {
		return nil
	}
	base, err := url.Parse(answeredBy(c))
	if err != nil {
		return nil
	}
	links := extractLinks(c.ContentBody, crawluri.HeaderValue(c.RepHeader, "Content-Type"), base, tags)
	appendLinks(c, links)
	return nil
}

// linkAttrs maps the elements whose links can be followed to the
// attribute that holds the link.
var linkAttrs = map[string]string{"a": "href", "area": "href", "link": "href", "frame": "src", "iframe": "src"}

// LinkTags lists the elements html_link_extractor_tags may name.
func LinkTags() []string { return []string{"a", "area", "frame", "iframe", "link"} }

// ParseLinkTags maps element names (any case) to the attribute holding
// their link, or names the first element it does not know.
func ParseLinkTags(names []string) (map[string]string, error) {
	tags := map[string]string{}
	for _, t := range names {
		name := strings.ToLower(strings.TrimSpace(t))
		attr, ok := linkAttrs[name]
		if !ok {
			return nil, fmt.Errorf("%q is not one of %s", t, strings.Join(LinkTags(), ", "))
		}
		tags[name] = attr
	}
	return tags, nil
}

// extractLinks tokenizes an HTML body and returns the absolute http(s)
// links of the elements in tags (element -> attribute), in document order,
// without duplicates.
func extractLinks(body []byte, contentType string, base *url.URL, tags map[string]string) []string {
	var r io.Reader = bytes.NewReader(body)
	if cr, err := charset.NewReader(r, contentType); err == nil {
		r = cr
	}
	z := html.NewTokenizer(r)
	baseSet := false
	seen := map[string]struct{}{}
	var links []string
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if !hasAttr {
				continue
			}
			want, ok := tags[string(name)]
			if string(name) == "base" {
				want, ok = "href", true
			}
			if !ok {
				continue
			}
			val, ok := attr(z, want)
			if !ok {
				continue
			}
			val = strings.TrimSpace(val)
			if string(name) == "base" {
				if !baseSet {
					if b, err := url.Parse(val); err == nil {
						base = base.ResolveReference(b)
						baseSet = true
					}
				}
				continue
			}
			if link := resolve(base, val); link != "" {
				if _, dup := seen[link]; !dup {
					seen[link] = struct{}{}
					links = append(links, link)
				}
			}
		}
	}
}

func attr(z *html.Tokenizer, want string) (string, bool) {
	for {
		k, v, more := z.TagAttr()
		if string(k) == want {
			return string(v), true
		}
		if !more {
			return "", false
		}
	}
}

// resolve makes link absolute against base and keeps it only if it is an
// http or https URL with a host.
func resolve(base *url.URL, link string) string {
	if link == "" {
		return ""
	}
	lower := strings.ToLower(link)
	if strings.HasPrefix(lower, "mailto:") || strings.HasPrefix(lower, "javascript:") {
		return ""
	}
	ref, err := url.Parse(link)
	if err != nil {
		return ""
	}
	u := base.ResolveReference(ref)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}
