package frontier

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
)

// MaxURLLength bounds the URLs a frontier admits; longer ones are rejected
// by Normalize (crawler traps grow URLs without end).
const MaxURLLength = 2048

// ErrBadURL is wrapped by every Normalize error.
var ErrBadURL = errors.New("bad url")

// Normalize turns raw into the form the frontier keys on: an absolute http or
// https URL with a host, scheme and host lower-cased, the default port and
// the fragment removed, and an empty path written as "/".
func Normalize(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrBadURL)
	}
	if len(raw) > MaxURLLength {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrBadURL, len(raw), MaxURLLength)
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
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

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

// NormalizeAll normalizes a batch of URLs on every core. It returns the
// normalized URLs in input order without the malformed ones, which it
// reports to bad (in input order, from the caller's goroutine).
func NormalizeAll(raw []string, bad func(i int, err error)) []string {
	out := make([]string, len(raw))
	errs := make([]error, len(raw))
	parallel(len(raw), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = Normalize(raw[i])
		}
	})
	kept := out[:0]
	for i, u := range out {
		if errs[i] != nil {
			bad(i, errs[i])
			continue
		}
		kept = append(kept, u)
	}
	return kept
}
