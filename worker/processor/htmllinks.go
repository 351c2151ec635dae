// htmllinks.go: link extraction from HTML with x/net/html's tokenizer.

package processor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/transform"

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
	var lower [8]byte
	return scanLinks(html.NewTokenizer(utf8Reader(body, contentType)), base, tags, func(z *html.Tokenizer) []byte {
		// The name from the raw tag, not TagName, which copies every name
		// (a page has hundreds of tags, a few with links).
		name, _ := asciiLower(lower[:0], tagNameOf(z.Raw()))
		return name
	})
}

// scanLinks reads from z the links of the elements in tags, and <base
// href>; tagName gives the lower-case name of the start tag z is at (nil:
// none worth looking up).
func scanLinks(z *html.Tokenizer, base *url.URL, tags map[string]string, tagName func(*html.Tokenizer) []byte) []string {
	baseSet := false
	seen := map[string]struct{}{}
	var links []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			return links
		case html.StartTagToken, html.SelfClosingTagToken:
			name := tagName(z)
			if name == nil {
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

// utf8Reader is what the tokenizer reads: the body decoded from its
// charset (header, BOM or <meta>, as charset.NewReader determines it), or
// the body itself when decoding would only copy it: valid UTF-8 declared
// or detected as such, or plain ASCII taken for windows-1252 (the default
// when nothing is declared).
func utf8Reader(body []byte, contentType string) io.Reader {
	e, name, _ := charset.DetermineEncoding(body[:min(len(body), 1024)], contentType)
	switch {
	case e == nil,
		name == "utf-8" && utf8.Valid(body),
		name == "windows-1252" && isASCII(body):
		return bytes.NewReader(body)
	}
	return transform.NewReader(bytes.NewReader(body), e.NewDecoder())
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// tagNameOf is the element name in a start tag's raw text ("<A HREF=x>"
// gives "A"): what follows '<' up to a space, '/' or '>', as the
// tokenizer reads it.
func tagNameOf(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '<' {
		return nil
	}
	name := raw[1:]
	for i, b := range name {
		switch b {
		case ' ', '\t', '\n', '\f', '\r', '/', '>':
			return name[:i]
		}
	}
	return name
}

// asciiLower appends name lower-cased to dst, when it fits (the elements
// with links have short names; longer ones are not looked up).
func asciiLower(dst, name []byte) ([]byte, bool) {
	if len(name) == 0 || len(name) > cap(dst) {
		return nil, false
	}
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst, true
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
