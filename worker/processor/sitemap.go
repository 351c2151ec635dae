// sitemap.go: the sitemap processor: the URLs a sitemap lists (the
// sitemaps.org protocol: urlset and sitemapindex, plain or gzipped) and the
// Sitemap: lines of a robots.txt become the result's links, for the master
// to admit through the same gate and scope as any link.

package processor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

func init() {
	Register("sitemap", func(s *settings.Settings) (Processor, error) {
		return &sitemapProcessor{maxURLs: s.SitemapMaxURLs, maxSize: s.SitemapMaxSize}, nil
	})
}

// A Sitemap is what a sitemap file lists.
type Sitemap struct {
	// Kind is the root element: "urlset" (pages) or "sitemapindex"
	// (further sitemaps).
	Kind    string
	Entries []SitemapEntry
	// Dropped counts entries beyond the limit of URLs per file.
	Dropped int
}

// A SitemapEntry is one <url> or <sitemap> of a sitemap.
type SitemapEntry struct {
	Loc     string
	LastMod time.Time // zero when not given or not a W3C datetime
}

// Errors of ParseSitemap, each a reason a sitemap is (partly) ignored.
var (
	ErrSitemapTooLarge = errors.New("sitemap larger than sitemap_max_size uncompressed (the protocol allows 50 MB; a gzip bomb stops here): ignored")
	ErrNotASitemap     = errors.New("not a sitemap: the root element is neither urlset nor sitemapindex")
)

// gzipMagic begins every gzip stream (sitemap.xml.gz served as a file).
var gzipMagic = []byte{0x1f, 0x8b}

// ParseSitemap reads a sitemap (gzipped or not) of at most maxSize bytes
// uncompressed, keeping its first maxURLs entries. A document whose root
// is not a sitemap's is ErrNotASitemap; one larger than maxSize is
// ErrSitemapTooLarge and yields nothing. XML that breaks after the root
// element yields the entries before the break, with the error.
func ParseSitemap(body []byte, maxSize int64, maxURLs int) (Sitemap, error) {
	var r io.Reader = bytes.NewReader(body)
	if bytes.HasPrefix(body, gzipMagic) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return Sitemap{}, fmt.Errorf("gzipped sitemap: %w", err)
		}
		r = zr
	}
	// The whole document is read first, within the limit: a file over it
	// is refused whole rather than cut at an arbitrary entry.
	doc, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return Sitemap{}, fmt.Errorf("gzipped sitemap: %w", err)
	}
	if int64(len(doc)) > maxSize {
		return Sitemap{}, ErrSitemapTooLarge
	}
	return parseSitemapXML(doc, maxURLs)
}

// parseSitemapXML walks the document's elements: the root names the kind,
// and each <url> or <sitemap> child gives its <loc> and <lastmod> (any
// namespace: sitemaps in the wild use old and missing ones).
func parseSitemapXML(doc []byte, maxURLs int) (Sitemap, error) {
	d := xml.NewDecoder(bufio.NewReader(bytes.NewReader(doc)))
	var sm Sitemap
	var path []string // element names from the root
	var entry SitemapEntry
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if sm.Kind == "" {
				return sm, ErrNotASitemap
			}
			return sm, nil
		}
		if err != nil {
			if sm.Kind == "" {
				return sm, fmt.Errorf("%w (%v)", ErrNotASitemap, err)
			}
			return sm, fmt.Errorf("sitemap XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(path) == 0 {
				if name != "urlset" && name != "sitemapindex" {
					return sm, ErrNotASitemap
				}
				sm.Kind = name
			}
			path = append(path, name)
			text.Reset()
			if len(path) == 2 {
				entry = SitemapEntry{}
			}
		case xml.CharData:
			if len(path) == 3 && text.Len() < 8<<10 {
				text.Write(t)
			}
		case xml.EndElement:
			switch {
			case len(path) == 3 && path[2] == "loc":
				entry.Loc = strings.TrimSpace(text.String())
			case len(path) == 3 && path[2] == "lastmod":
				entry.LastMod = parseW3CDate(strings.TrimSpace(text.String()))
			case len(path) == 2 && (path[1] == "url" || path[1] == "sitemap") && entry.Loc != "":
				if len(sm.Entries) < maxURLs {
					sm.Entries = append(sm.Entries, entry)
				} else {
					sm.Dropped++
				}
			}
			path = path[:len(path)-1]
		}
	}
}

// parseW3CDate reads a <lastmod>: a W3C datetime, from a year to a
// fraction of a second with a zone; zero when it is none.
func parseW3CDate(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// sitemapProcessor turns sitemaps and robots.txt's Sitemap: lines into
// links.
type sitemapProcessor struct {
	maxURLs int
	maxSize int64
}

// Process implements Processor. A sitemap's URLs replace the result's
// links, newest <lastmod> first (the master admits them in that order, so
// each host's queue takes them so); the result is marked (VarSitemap) so
// that the master takes up to sitemap_max_urls of them rather than
// max_links_per_page. What goes wrong is reported in VarSitemapError,
// which the master counts: the result itself stands.
func (p *sitemapProcessor) Process(_ context.Context, c *crawluri.CrawlUri) error {
	if !crawluri.IsSuccess(c.StatusCode) {
		return nil
	}
	base, err := url.Parse(c.EffectiveURL)
	if err != nil {
		return nil
	}
	if base.Path == "/robots.txt" {
		p.fromRobots(c, base)
		return nil
	}
	if !sitemapCandidate(c, base) {
		return nil
	}
	sm, err := ParseSitemap(c.ContentBody, p.maxSize, p.maxURLs)
	if errors.Is(err, ErrNotASitemap) && !strings.HasSuffix(base.Path, ".xml") && !strings.HasSuffix(base.Path, ".xml.gz") {
		return nil // an XML document of another kind (a feed, an API's)
	}
	if err != nil {
		if c.Var(crawluri.VarTruncated) == crawluri.VarTrue {
			err = fmt.Errorf("%w (the body was cut at max_content_length)", err)
		}
		c.SetVar(crawluri.VarSitemapError, err.Error())
	}
	if sm.Kind == "" {
		return nil
	}
	if sm.Dropped > 0 {
		c.SetVar(crawluri.VarSitemapError, fmt.Sprintf("%d entries beyond sitemap_max_urls (%d) dropped", sm.Dropped, p.maxURLs))
	}
	// Newest first; entries without a date after the dated ones, in file
	// order.
	slices.SortStableFunc(sm.Entries, func(a, b SitemapEntry) int { return b.LastMod.Compare(a.LastMod) })
	links := make([]string, 0, len(sm.Entries))
	var lastMods []byte // (the dated entries sort first: one for each of the first links)
	for _, e := range sm.Entries {
		if u, err := base.Parse(e.Loc); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			links = append(links, u.String())
			if !e.LastMod.IsZero() {
				if len(lastMods) > 0 {
					lastMods = append(lastMods, ' ')
				}
				lastMods = strconv.AppendInt(lastMods, e.LastMod.Unix(), 10)
			}
		}
	}
	c.SetExtractedURLs(links)
	c.SetVar(crawluri.VarSitemap, sm.Kind)
	if len(lastMods) > 0 {
		c.SetVar(crawluri.VarSitemapLastMod, string(lastMods))
	}
	c.SetVar(crawluri.VarExtractionFinished, crawluri.VarTrue)
	return nil
}

// sitemapCandidate reports whether c may be a sitemap: an XML or gzip
// response, or a name that says so. HTML pages are left alone.
func sitemapCandidate(c *crawluri.CrawlUri, u *url.URL) bool {
	ct := strings.ToLower(crawluri.HeaderValue(c.RepHeader, "Content-Type"))
	return strings.Contains(ct, "xml") || strings.Contains(ct, "gzip") || bytes.HasPrefix(c.ContentBody, gzipMagic) ||
		strings.HasSuffix(u.Path, ".xml") || strings.HasSuffix(u.Path, ".xml.gz")
}

// fromRobots takes the Sitemap: lines of a robots.txt (RFC 9309 leaves
// them outside the groups: they hold for every crawler).
func (p *sitemapProcessor) fromRobots(c *crawluri.CrawlUri, base *url.URL) {
	var links []string
	for line := range strings.Lines(string(c.ContentBody)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "sitemap") {
			continue
		}
		value, _, _ = strings.Cut(value, "#")
		if u, err := base.Parse(strings.TrimSpace(value)); err == nil && (u.Scheme == "http" || u.Scheme == "https") && len(links) < p.maxURLs {
			links = append(links, u.String())
		}
	}
	if len(links) > 0 {
		c.SetExtractedURLs(links)
		c.SetVar(crawluri.VarSitemap, "robots")
	}
}
