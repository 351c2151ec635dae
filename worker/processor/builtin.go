// builtin.go: the built-in processors (limiter, link extraction, HTTP
// headers, scope and query clean-up) and their registration.

package processor

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/urlx"
)

func init() {
	Register("limiter", func(*settings.Settings) (Processor, error) { return Func(limit), nil })
	Register("html_link_extractor", func(s *settings.Settings) (Processor, error) {
		tags, err := ParseLinkTags(s.HTMLLinkExtractorTags)
		if err != nil {
			return nil, fmt.Errorf("html_link_extractor_tags: %w", err)
		}
		return Func(func(ctx context.Context, c *crawluri.CrawlUri) error { return extractHTMLLinks(ctx, c, tags) }), nil
	})
	Register("strip_query_params", func(s *settings.Settings) (Processor, error) {
		names := map[string]bool{}
		for _, n := range s.RemoveQueryNames {
			names[strings.ToLower(strings.TrimSpace(n))] = true
		}
		return Func(func(_ context.Context, c *crawluri.CrawlUri) error {
			if len(names) > 0 {
				rewriteLinks(c, func(u string) string { return StripQueryParams(u, names) })
			}
			return nil
		}), nil
	})
	Register("http_extractor", newHTTPExtractor)
	Register("regex_scoper", newRegexScoper)
	Register("strip_session_ids", func(*settings.Settings) (Processor, error) {
		return Func(func(_ context.Context, c *crawluri.CrawlUri) error {
			rewriteLinks(c, StripSessionIDs)
			return nil
		}), nil
	})
	Register("cleanup_query_string", func(s *settings.Settings) (Processor, error) {
		return Func(func(_ context.Context, c *crawluri.CrawlUri) error {
			rewriteLinks(c, CleanupQueryString)
			return nil
		}), nil
	})
}

// limit is spyder's DefaultLimiter: no links are taken from robots.txt.
func limit(_ context.Context, c *crawluri.CrawlUri) error {
	if c.Var(crawluri.VarExtractionFinished) != crawluri.VarTrue && strings.HasSuffix(c.EffectiveURL, "robots.txt") {
		c.SetVar(crawluri.VarExtractionFinished, crawluri.VarTrue)
	}
	return nil
}

// appendLinks adds links to optional_vars["extracted_urls"].
func appendLinks(c *crawluri.CrawlUri, links []string) {
	if len(links) == 0 {
		return
	}
	c.SetExtractedURLs(append(c.ExtractedURLs(), links...))
}

// rewriteLinks maps every extracted link through fn, dropping empty results.
func rewriteLinks(c *crawluri.CrawlUri, fn func(string) string) {
	links := c.ExtractedURLs()
	if len(links) == 0 {
		return
	}
	out := links[:0]
	for _, l := range links {
		if l = fn(l); l != "" {
			out = append(out, l)
		}
	}
	c.SetExtractedURLs(out)
}

// answeredBy is the URL whose response c holds, which relative links and
// a Location are relative to: the effective URL when the fetcher followed
// redirects, else the URL asked for.
func answeredBy(c *crawluri.CrawlUri) string {
	if c.EffectiveURL != "" {
		return c.EffectiveURL
	}
	return c.URL
}

// httpExtractor is spyder's HttpExtractor: a 3xx's Location becomes a link.
type httpExtractor struct{ ignore map[string]struct{} }

func newHTTPExtractor(s *settings.Settings) (Processor, error) {
	h := &httpExtractor{ignore: map[string]struct{}{}}
	for _, u := range s.HTTPExtractor404Redirect {
		h.ignore[u] = struct{}{}
	}
	return h, nil
}

func (h *httpExtractor) Process(_ context.Context, c *crawluri.CrawlUri) error {
	if c.StatusCode < 300 || c.StatusCode >= 400 {
		return nil
	}
	loc := crawluri.HeaderValue(c.RepHeader, "Location")
	if loc == "" {
		return nil
	}
	base, err := url.Parse(answeredBy(c))
	if err != nil {
		return nil
	}
	ref, err := url.Parse(strings.TrimSpace(loc))
	if err != nil {
		return nil
	}
	target := base.ResolveReference(ref).String()
	if _, skip := h.ignore[target]; skip {
		return nil
	}
	appendLinks(c, []string{target})
	return nil
}

// regexScoper is spyder's RegexScoper. With no positive regex configured it
// keeps every link: the master then scopes links to the seeds' hosts, which
// only it knows.
type regexScoper struct{ scope *urlx.Scope }

func newRegexScoper(s *settings.Settings) (Processor, error) {
	sc, err := urlx.NewScope(s.RegexScopePositive, s.RegexScopeNegative)
	if err != nil {
		return nil, err
	}
	return &regexScoper{scope: sc}, nil
}

func (r *regexScoper) Process(_ context.Context, c *crawluri.CrawlUri) error {
	if r.scope.HostBased() {
		rewriteLinks(c, func(u string) string {
			if r.scope.DeniedByNegative(u) {
				return ""
			}
			return u
		})
		return nil
	}
	rewriteLinks(c, func(u string) string {
		if !r.scope.Allows(u) {
			return ""
		}
		return u
	})
	return nil
}

// sessionParams are the session-id parameters spyder's StripSessionIds
// removes, found case-insensitively anywhere in the URL.
var sessionParams = []string{"jsessionid=", "phpsessid=", "aspsessionid=", "sid="}

// StripQueryParams removes the query parameters whose (decoded,
// case-insensitive) names are in names, keeping the others as written and
// in order; spyder 0.2.x's StripQueryParams (REMOVE_QUERY_NAMES). A query
// left empty goes with its "?".
func StripQueryParams(u string, names map[string]bool) string {
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return u
	}
	base, query, frag := u[:q], u[q+1:], ""
	if h := strings.IndexByte(query, '#'); h >= 0 {
		query, frag = query[:h], query[h:]
	}
	var kept []string
	for _, part := range strings.Split(query, "&") {
		name, _, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if part != "" && !names[strings.ToLower(name)] {
			kept = append(kept, part)
		}
	}
	if len(kept) == 0 {
		return base + frag
	}
	return base + "?" + strings.Join(kept, "&") + frag
}

// StripSessionIDs removes session-id parameters from u, each from its name to
// the next '&' (exclusive) or the end, as spyder did:
// "a?sid=1&x=2" -> "a?&x=2", "index.php?sid=abc" -> "index.php?".
func StripSessionIDs(u string) string {
	for _, p := range sessionParams {
		for {
			i := strings.Index(strings.ToLower(u), p)
			if i < 0 {
				break
			}
			end := strings.IndexByte(u[i:], '&')
			if end < 0 {
				u = u[:i]
			} else {
				u = u[:i] + u[i+end:]
			}
		}
	}
	return u
}

// CleanupQueryString is spyder's CleanupQueryString: one trailing '?' or
// '&' of the URL before its fragment goes. (spyder also cut the fragment
// here, behind remove_anchors_from_links; whether fragments go is now one
// decision, url_canonicalization's remove_fragment, applied to every link
// after the pipeline.)
func CleanupQueryString(u string) string {
	rest, fragment, hasFragment := strings.Cut(u, "#")
	if strings.HasSuffix(rest, "?") || strings.HasSuffix(rest, "&") {
		rest = rest[:len(rest)-1]
	}
	if hasFragment {
		return rest + "#" + fragment
	}
	return rest
}
