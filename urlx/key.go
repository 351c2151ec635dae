// key.go: a URL's fixed-size key (for the seen set), its host and its
// origin.

package urlx

import (
	"hash/fnv"
	"net/url"
	"strings"
)

// Key is the 16-byte digest a frontier dedups on: FNV-128a of the normalized
// URL. 16 bytes keep the seen set small; collisions are negligible at any
// crawl size (2^64 URLs for an even chance).
type Key [16]byte

// KeyOf returns the dedup key of a normalized URL.
func KeyOf(normalized string) Key {
	h := fnv.New128a()
	_, _ = h.Write([]byte(normalized))
	var k Key
	h.Sum(k[:0])
	return k
}

// Host returns the lower-cased host name (no port) of a URL, or "".
func Host(rawURL string) string {
	if h, ok := plainHost(rawURL); ok {
		return h
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// plainHost is Host without parsing for the common form: http or https
// and a lower-case host name, an optional port, then the path, query,
// fragment or the end. ok is false for anything else (credentials, an IP
// v6 literal, upper case, ...), which Host parses. The frontier asks the
// host of every URL it admits, all canonical, several times: this is a
// scan where parsing allocates. It agrees with parsing on every URL
// url.Parse accepts (FuzzPlainHost); of one it refuses for what follows the
// host (a control character, a bad escape in the path), it still names
// the host, where parsing gave "".
func plainHost(u string) (host string, ok bool) {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(u, "https://"); !ok {
			return "", false
		}
	}
	i := 0
	for i < len(rest) && hostByte(rest[i]) {
		i++
	}
	host = rest[:i]
	if i < len(rest) && rest[i] == ':' {
		for i++; i < len(rest) && '0' <= rest[i] && rest[i] <= '9'; i++ {
		}
	}
	if host == "" || i < len(rest) && rest[i] != '/' && rest[i] != '?' && rest[i] != '#' {
		return "", false
	}
	return host, true
}

// SplitOrigin cuts a normalized absolute URL into its origin
// (scheme://host[:port], without credentials) and what is sent in the
// request line (path and query, "/" when empty).
func SplitOrigin(u string) (origin, pathQuery string) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", u
	}
	rest := u[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = authority[at+1:]
	}
	pathQuery = rest[end:]
	if j := strings.IndexByte(pathQuery, '#'); j >= 0 {
		pathQuery = pathQuery[:j]
	}
	if pathQuery == "" || pathQuery[0] != '/' {
		pathQuery = "/" + pathQuery
	}
	return u[:i+3] + authority, pathQuery
}
