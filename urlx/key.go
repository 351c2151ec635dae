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
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
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
