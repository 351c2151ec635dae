// Package urlx holds what spyder decides about a URL before it is crawled:
// its canonical form (canon.go), whether the crawl's scope admits it
// (scope.go), the key the frontier dedups on and its host (key.go), and
// how a file of URLs is read (file.go). It imports nothing of spyder, so
// that the frontier, the master, the worker's processors and a user's own
// code share one meaning of each.
package urlx

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBadURL is wrapped by every Normalize error.
var ErrBadURL = errors.New("bad url")

// ErrNoScheme is a URL written without its scheme, such as example.com/a:
// a person's usual slip in a seeds file. It wraps ErrBadURL.
var ErrNoScheme = fmt.Errorf("%w: no scheme", ErrBadURL)

// ErrTooLong is a URL whose canonical form is longer than the crawl's
// max_url_length (crawler traps grow URLs without end). It wraps ErrBadURL.
var ErrTooLong = fmt.Errorf("%w: longer than max_url_length", ErrBadURL)

// NormalizeWithin is Normalize with the crawl's length bound on the
// canonical form (maxLen <= 0: none); the one place where a URL's length is
// judged, for seeds, injected URLs and links alike.
func (c Canonicalization) NormalizeWithin(raw string, maxLen int) (string, error) {
	u, err := c.Normalize(raw)
	if err != nil {
		return "", err
	}
	if maxLen > 0 && len(u) > maxLen {
		return "", fmt.Errorf("%w (%d): %d bytes", ErrTooLong, maxLen, len(u))
	}
	return u, nil
}

// looksLikeHost reports whether s starts with what could be a host name
// with a dot (example.com, www.example.org:8080/a), so that a URL without a
// scheme gets a hint rather than "not http or https".
func looksLikeHost(s string) bool {
	host := s
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if !strings.Contains(host, ".") && host != "localhost" {
		return false
	}
	for _, r := range host {
		if !(r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// Canonicalization selects the optional steps of URL canonicalization
// (RFC 3986 section 6) applied before a URL is keyed. The scheme and host
// are always lower-cased, the default port always dropped and an empty
// path always written as "/": those never change what a URL names.
type Canonicalization struct {
	// ResolveDotSegments removes "." and ".." path segments (RFC 3986
	// section 5.2.4): /a/./b/../c is /a/c.
	ResolveDotSegments bool
	// NormalizePercentEncoding decodes percent-encoded unreserved
	// characters and upper-cases the hex digits of the others, in path and
	// query: /%7euser?q=%2a is /~user?q=%2A.
	NormalizePercentEncoding bool
	// RemoveFragment drops the #fragment, which the server never sees.
	RemoveFragment bool
}

// Canonicalization step names, as the url_canonicalization setting lists
// them.
const (
	StepResolveDotSegments       = "resolve_dot_segments"
	StepNormalizePercentEncoding = "normalize_percent_encoding"
	StepRemoveFragment           = "remove_fragment"
)

// CanonicalizationSteps lists the step names, in the order they apply.
func CanonicalizationSteps() []string {
	return []string{StepResolveDotSegments, StepNormalizePercentEncoding, StepRemoveFragment}
}

// FullCanonicalization applies every step; Normalize uses it.
func FullCanonicalization() Canonicalization {
	return Canonicalization{ResolveDotSegments: true, NormalizePercentEncoding: true, RemoveFragment: true}
}

// ParseCanonicalization turns step names into a Canonicalization.
func ParseCanonicalization(steps []string) (Canonicalization, error) {
	var c Canonicalization
	for _, s := range steps {
		switch strings.TrimSpace(s) {
		case StepResolveDotSegments:
			c.ResolveDotSegments = true
		case StepNormalizePercentEncoding:
			c.NormalizePercentEncoding = true
		case StepRemoveFragment:
			c.RemoveFragment = true
		default:
			return c, fmt.Errorf("unknown URL canonicalization step %q (known: %s)", s, strings.Join(CanonicalizationSteps(), ", "))
		}
	}
	return c, nil
}

// Normalize is FullCanonicalization().Normalize.
func Normalize(raw string) (string, error) { return FullCanonicalization().Normalize(raw) }

// Normalize turns raw into the form the frontier keys on: an absolute http
// or https URL with a host, canonicalized as c says.
func (c Canonicalization) Normalize(raw string) (string, error) {
	if c.PlainlyCanonical(raw) {
		return raw, nil
	}
	return c.normalize(raw)
}

// normalize is Normalize by parsing.
func (c Canonicalization) normalize(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrBadURL)
	}
	if !strings.Contains(raw, "://") && looksLikeHost(raw) {
		return "", fmt.Errorf("%w: %q: write http://%s or https://%s", ErrNoScheme, raw, raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: %q: scheme %q is not http or https", ErrBadURL, raw, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: %q has no host", ErrBadURL, raw)
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if c.RemoveFragment {
		u.Fragment, u.RawFragment = "", ""
	}
	if c.ResolveDotSegments || c.NormalizePercentEncoding {
		p := u.EscapedPath()
		if c.NormalizePercentEncoding {
			p = normalizePercents(p)
			u.RawQuery = normalizePercents(u.RawQuery)
		}
		if c.ResolveDotSegments {
			p = removeDotSegments(p)
		}
		if err := setEscapedPath(u, p); err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrBadURL, raw, err)
		}
	}
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// PlainlyCanonical reports, by one pass over its bytes, that s is its own
// canonical form under c: http or https in lower case, a lower-case host
// name with no credentials and no default port, a path and query of
// characters that parsing and printing leave as they are, no fragment, no
// dot segment and no percent-encoding Normalize would rewrite. Most links
// a worker sends are already canonical (it canonicalized them), and the
// master checks each: this costs a scan where parsing costs allocations.
// A false says nothing; Normalize then parses. FuzzPlainlyCanonical holds
// it to normalize: whatever it accepts, normalize returns unchanged.
func (c Canonicalization) PlainlyCanonical(s string) bool {
	rest, ok := strings.CutPrefix(s, "http://")
	https := false
	if !ok {
		if rest, ok = strings.CutPrefix(s, "https://"); !ok {
			return false
		}
		https = true
	}
	i := 0
	for i < len(rest) && hostByte(rest[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	if i < len(rest) && rest[i] == ':' {
		j := i + 1
		for j < len(rest) && '0' <= rest[j] && rest[j] <= '9' {
			j++
		}
		port := rest[i+1 : j]
		if port == "" || len(port) > 5 || port[0] == '0' || !https && port == "80" || https && port == "443" {
			return false
		}
		i = j
	}
	if i == len(rest) || rest[i] != '/' {
		return false // no path ("/" is added) or something a host name has not
	}
	return c.PlainlyCanonicalPath(rest[i+1:])
}

// PlainlyCanonicalPath is PlainlyCanonical of what follows a '/' of a URL
// in canonical form (its path, or one that ends with '/'): that URL with
// tail after that '/' is canonical too. A worker joins the links of a page
// to its URL with it.
func (c Canonicalization) PlainlyCanonicalPath(tail string) bool {
	segment := -1 // the '/' before the path segment being read
	inQuery := false
	for i := 0; i < len(tail); i++ {
		b := tail[i]
		switch {
		case unreserved(b) || strings.IndexByte("!$&'()*+,;=:@", b) >= 0:
		case b == '/' && !inQuery:
			if c.ResolveDotSegments && dotSegment(tail[segment+1:i]) {
				return false
			}
			segment = i
		case b == '/' && inQuery:
		case b == '?':
			if !inQuery {
				if c.ResolveDotSegments && dotSegment(tail[segment+1:i]) {
					return false
				}
				if i == len(tail)-1 {
					return false // an empty query: printing may drop the '?'
				}
				inQuery = true
			}
		case b == '%':
			// Left as it is only when normalize_percent_encoding would
			// leave it: upper-case hex of a character that must stay
			// encoded. (Without the step, parsing may still rewrite it.)
			if !c.NormalizePercentEncoding || i+2 >= len(tail) || !upperHex(tail[i+1]) || !upperHex(tail[i+2]) || unreserved(unhex(tail[i+1])<<4|unhex(tail[i+2])) {
				return false
			}
			i += 2
		default:
			return false // a fragment, a space, a byte that is not ASCII, ...
		}
	}
	return inQuery || !c.ResolveDotSegments || !dotSegment(tail[segment+1:])
}

// hostByte is a byte of a host name in canonical (lower-case) form.
func hostByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '.' || b == '-'
}

func upperHex(b byte) bool { return '0' <= b && b <= '9' || 'A' <= b && b <= 'F' }

func dotSegment(seg string) bool { return seg == "." || seg == ".." }

// setEscapedPath sets u's path from its escaped form, keeping that form.
func setEscapedPath(u *url.URL, escaped string) error {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		return err
	}
	u.Path, u.RawPath = p, escaped
	if u.EscapedPath() != escaped {
		u.RawPath = "" // Go's own escaping is this form
	}
	return nil
}

// unreserved reports whether b may appear unescaped anywhere (RFC 3986
// section 2.3).
func unreserved(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~'
}

// normalizePercents decodes percent-encoded unreserved characters and
// upper-cases the hex digits of every other percent-encoding (RFC 3986
// section 6.2.2.2). Malformed escapes are left as they are.
func normalizePercents(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			b.WriteByte(s[i])
			continue
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		if unreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[v>>4])
			b.WriteByte(hex[v&15])
		}
		i += 2
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// removeDotSegments is RFC 3986 section 5.2.4 on an absolute path: "."
// segments go, ".." removes the segment before it (never above the
// root), and a trailing "." or ".." leaves the path ending in "/".
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	r := strings.Join(out, "/")
	if strings.HasPrefix(p, "/") && !strings.HasPrefix(r, "/") {
		r = "/" + r
	}
	return r
}

// Distinct returns links in their canonical forms, each once, in the
// order of first occurrence; a link that cannot be canonicalized is kept
// as it is, once (the master counts it). It reuses links' backing array.
func Distinct(links []string, c Canonicalization) []string {
	seen := make(map[string]struct{}, len(links))
	out := links[:0]
	for _, l := range links {
		if u, err := c.Normalize(l); err == nil {
			l = u
		}
		if _, dup := seen[l]; !dup {
			seen[l] = struct{}{}
			out = append(out, l)
		}
	}
	return out
}
