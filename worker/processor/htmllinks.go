// htmllinks.go: link extraction from HTML: which elements, which charset,
// how links are resolved (the tags themselves are found in htmlscan.go).

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
	"github.com/spyder-crawl/spyder/urlx"
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

// extractHTMLLinks is spyder's DefaultHtmlLinkExtractor with HTML's
// tokenization rules (x/net/html's tokenizer's, followed by htmlscan.go):
// links of <a href> resolved against the page URL or the first
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

// extractLinks reads an HTML body and returns the absolute http(s) links
// of the elements in tags (element -> attribute), in document order,
// without duplicates. Its tags are found by tagScanner (htmlscan.go), as
// x/net/html's tokenizer finds them.
func extractLinks(body []byte, contentType string, base *url.URL, tags map[string]string) []string {
	links := newLinkSet(base)
	s := tagScanner{buf: utf8Body(body, contentType)}
	var lower [8]byte
	var want string // the link attribute of the start tag just read, if it has one
	var isBase bool
	withAttrs := func(name []byte) bool {
		n, ok := asciiLower(lower[:0], name) // elements with links have short names
		isBase = ok && string(n) == "base"
		switch {
		case !ok:
			want = ""
		case isBase:
			want = "href"
		default:
			want = tags[string(n)]
		}
		return want != ""
	}
	for {
		tag, ok := s.next(withAttrs)
		if !ok {
			return links.links
		}
		if want == "" {
			continue
		}
		if val, ok := s.attr(tag, want); ok {
			links.add(isBase, val)
		}
	}
}

// linkSet gathers the links of one page: resolved against the page's URL
// or its first <base href>, each once, in document order.
type linkSet struct {
	r       resolver
	baseSet bool
	seen    map[string]struct{}
	links   []string
}

func newLinkSet(base *url.URL) *linkSet {
	return &linkSet{r: newResolver(base), seen: map[string]struct{}{}}
}

// add takes the value of an element's link attribute, or of <base href>
// (which sets the base, once).
func (l *linkSet) add(isBase bool, val string) {
	val = strings.TrimSpace(val)
	if isBase {
		if !l.baseSet {
			if b, err := url.Parse(val); err == nil {
				l.r = newResolver(l.r.base.ResolveReference(b))
				l.baseSet = true
			}
		}
		return
	}
	if link := l.r.resolve(val); link != "" {
		if _, dup := l.seen[link]; !dup {
			l.seen[link] = struct{}{}
			l.links = append(l.links, link)
		}
	}
}

// utf8Body is what the tags are read from: the body decoded from its
// charset (header, BOM or <meta>, as charset.DetermineEncoding finds it,
// the tokenizer's charset.NewReader's way), or the body itself when
// decoding would only copy it: valid UTF-8 declared or detected as such,
// or plain ASCII taken for windows-1252 (the default when nothing is
// declared). A decoder's error ends the document where it stopped, as it
// ends the tokenizer's input.
func utf8Body(body []byte, contentType string) []byte {
	e, name, _ := charset.DetermineEncoding(body[:min(len(body), 1024)], contentType)
	switch {
	case e == nil,
		name == "utf-8" && utf8.Valid(body),
		name == "windows-1252" && isASCII(body):
		return body
	}
	decoded, _ := io.ReadAll(transform.NewReader(bytes.NewReader(body), e.NewDecoder()))
	return decoded
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
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

// resolver makes links absolute against one base URL.
type resolver struct {
	base *url.URL
	// origin ("http://h") and dir ("http://h/d/") of a base in canonical
	// form (empty otherwise): the links a page has most, a path from the
	// root or from the page's directory, are joined to them as strings.
	origin, dir string
}

// plain is the canonical form a base must have for the shortcut, and the
// one a link must reach through it: every step of canonicalization.
var plain = urlx.FullCanonicalization()

func newResolver(base *url.URL) resolver {
	r := resolver{base: base}
	if s := base.String(); plain.PlainlyCanonical(s) {
		r.origin, _ = urlx.SplitOrigin(s)
		s, _, _ = strings.Cut(s, "?")
		r.dir = s[:strings.LastIndexByte(s, '/')+1]
	}
	return r
}

// resolve makes link absolute against the base and keeps it only if it is
// an http or https URL with a host. A link that is a path, from the root
// ("/a/b.html") or relative ("b.html", "c/d.html?x=1"), with nothing that
// resolving or canonicalizing would change (no dot segment, no escape to
// rewrite, no fragment, no byte to escape), is the origin or directory
// joined to it, and an absolute link in canonical form is itself: the same
// string the parser and printer give, without either (FuzzResolve holds
// the two to each other).
func (r resolver) resolve(link string) string {
	if link == "" {
		return ""
	}
	if r.dir != "" {
		switch {
		case strings.HasPrefix(link, "http://") || strings.HasPrefix(link, "https://"):
			if plain.PlainlyCanonical(link) {
				return link
			}
		case strings.HasPrefix(link, "//"):
		case link[0] == '/':
			if plain.PlainlyCanonicalPath(link[1:]) {
				return r.origin + link
			}
		case relativePath(link):
			if plain.PlainlyCanonicalPath(link) {
				return r.dir + link
			}
		}
	}
	return resolveParsed(r.base, link)
}

// relativePath: link starts with a path segment, not a scheme, query or
// fragment (a ':' before any '/' would make it a scheme).
func relativePath(link string) bool {
	if link[0] == '?' || link[0] == '#' {
		return false
	}
	for i := 0; i < len(link); i++ {
		switch link[i] {
		case ':':
			return false
		case '/', '?', '#':
			return true
		}
	}
	return true
}

// resolveParsed is resolve by the parser: any link.
func resolveParsed(base *url.URL, link string) string {
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
