// gate.go: the one admission gate for URLs (canonical form, length, scope)
// with one reason per refusal.

package urlx

import (
	"errors"
	"strings"
)

// ErrOutOfScope is a link the crawl's scope does not admit.
var ErrOutOfScope = errors.New("out of scope")

// ErrDeniedExtension is a link whose path ends in an extension of
// deny_extensions.
var ErrDeniedExtension = errors.New("denied extension")

// Gate is the one check a URL passes before the frontier sees it (colly's
// requestCheck is the model): its canonical form, its length
// (max_url_length) and, for a link, the crawl's scope. Seeds, live and
// offline inject and links all pass it; each refusal is an error wrapping
// one sentinel, which Reason names for the counters. The frontier adds
// what only its state can tell: depth and the per-host cap.
type Gate struct {
	Canon  Canonicalization
	MaxLen int    // max_url_length; 0: no bound
	Scope  *Scope // nil: every URL is in scope
	// DenyExtensions are the lower-case extensions (without the dot) of
	// links not crawled (deny_extensions); seeds are not refused for it.
	DenyExtensions map[string]bool
}

// Seed admits a seed URL: its canonical form, or why not. With a
// host-based scope the seed's host joins it (seeds define the scope).
func (g *Gate) Seed(raw string) (string, error) {
	u, err := g.Canon.NormalizeWithin(raw, g.MaxLen)
	if err != nil {
		return "", err
	}
	if g.Scope != nil {
		g.Scope.AddSeed(u)
	}
	return u, nil
}

// Link admits an extracted link: its canonical form, or why not. A link
// refused for the scope alone still comes with its canonical form, so
// that the caller can tell two spellings of it apart from two links.
func (g *Gate) Link(raw string) (string, error) {
	u, err := g.Canon.NormalizeWithin(raw, g.MaxLen)
	if err != nil {
		return "", err
	}
	if g.Scope != nil && !g.Scope.Allows(u) {
		return u, ErrOutOfScope
	}
	if len(g.DenyExtensions) > 0 && g.DenyExtensions[extension(u)] {
		return u, ErrDeniedExtension
	}
	return u, nil
}

// ExtensionSet is a list of extensions (deny_extensions) as the gate
// looks them up; nil for none.
func ExtensionSet(exts []string) map[string]bool {
	if len(exts) == 0 {
		return nil
	}
	m := make(map[string]bool, len(exts))
	for _, e := range exts {
		m[strings.ToLower(strings.TrimPrefix(e, "."))] = true
	}
	return m
}

// extension is the lower-case extension of the last segment of a
// canonical URL's path, without its dot ("" when it has none).
func extension(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	seg := u[strings.LastIndexByte(u, '/')+1:]
	dot := strings.LastIndexByte(seg, '.')
	if dot < 0 || !strings.Contains(u, "/") {
		return ""
	}
	return strings.ToLower(seg[dot+1:])
}

// Refusal reasons, as counters and logs name them.
const (
	ReasonInvalid    = "invalid"
	ReasonTooLong    = "too_long"
	ReasonOutOfScope = "out_of_scope"
	ReasonDenied     = "denied_extension"
)

// Reason names the refusal err of the gate.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrTooLong):
		return ReasonTooLong
	case errors.Is(err, ErrOutOfScope):
		return ReasonOutOfScope
	case errors.Is(err, ErrDeniedExtension):
		return ReasonDenied
	}
	return ReasonInvalid
}
