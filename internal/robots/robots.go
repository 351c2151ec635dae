// Package robots reads robots.txt files as RFC 9309 (the Robots Exclusion
// Protocol) specifies: groups chosen by the crawler's product token
// (case-insensitive; every group naming it, combined; "*" otherwise),
// allow and disallow rules with "*" and "$", the most specific match
// deciding and allow winning a tie, /robots.txt itself always allowed.
// Crawl-delay, an extension, is read from the chosen group.
//
// temoto/robotstxt v1.1.2, the library the project meant to wrap, fails
// the RFC's conformance cases: it matches groups by prefix (crawler
// "foobotx" gets the rules of "User-agent: foo") and decides an allow and a
// disallow of equal length by their order in the file (the RFC says allow
// wins); both were checked against it, and both are cases in this package's
// tests. Hence this small parser.
package robots

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxSize is how much of a robots.txt is parsed; RFC 9309 asks for at
// least 500 KiB.
const MaxSize = 512 << 10

// Robots is a parsed robots.txt, or the verdict that stands in for one.
type Robots struct {
	groups []group
	all    verdict
}

type verdict int

const (
	parsed      verdict = iota
	allowAll            // the file is unavailable (4xx): no restrictions
	disallowAll         // the file is unreachable (5xx, network): nothing may be fetched
)

type group struct {
	agents     []string // lower-case product tokens, or "*"
	rules      []rule
	crawlDelay time.Duration
	hasDelay   bool
}

type rule struct {
	allow   bool
	pattern string
}

// AllowAll stands for an unavailable robots.txt (status 400-499).
func AllowAll() *Robots { return &Robots{all: allowAll} }

// DisallowAll stands for an unreachable robots.txt (status 500-599, or no
// response).
func DisallowAll() *Robots { return &Robots{all: disallowAll} }

// FromResponse applies RFC 9309 section 2.3.1 to the outcome of fetching a
// robots.txt (after redirects): 2xx parses the body, 4xx allows
// everything, anything else (5xx, a transport error given as status 0 or
// 599) disallows everything. 429 Too Many Requests counts as a server
// error, not as "unavailable": a server that is shedding load has not said
// that it has no rules.
func FromResponse(status int, body []byte) *Robots {
	switch {
	case status >= 200 && status < 300:
		return Parse(body)
	case status >= 400 && status < 500 && status != 429:
		return AllowAll()
	default:
		return DisallowAll()
	}
}

// Parse reads a robots.txt body. Lines it does not understand are skipped,
// as the RFC asks.
func Parse(body []byte) *Robots {
	if len(body) > MaxSize {
		body = body[:MaxSize]
	}
	r := &Robots{}
	var cur *group
	lastWasAgent := false
	for _, line := range bytes.Split(body, []byte("\n")) {
		text := string(line)
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		key, value, ok := strings.Cut(text, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		value = strings.TrimSpace(value)
		switch key {
		case "user-agent":
			if cur == nil || !lastWasAgent {
				r.groups = append(r.groups, group{})
				cur = &r.groups[len(r.groups)-1]
			}
			cur.agents = append(cur.agents, strings.ToLower(value))
			lastWasAgent = true
			continue
		case "allow", "disallow":
			if cur != nil && value != "" { // an empty rule matches nothing
				cur.rules = append(cur.rules, rule{allow: key == "allow", pattern: value})
			}
		case "crawl-delay":
			if cur != nil {
				if secs, err := strconv.ParseFloat(value, 64); err == nil && secs >= 0 && secs < 1e6 {
					cur.crawlDelay, cur.hasDelay = time.Duration(secs*float64(time.Second)), true
				}
			}
		}
		lastWasAgent = false
	}
	return r
}

// Group is the rules that apply to one crawler.
type Group struct {
	all        verdict
	rules      []rule
	crawlDelay time.Duration
	hasDelay   bool
}

// For returns the rules for the crawler whose product token is token
// (e.g. "spyder"): every group naming it, combined, or else the "*"
// groups, or else none.
func (r *Robots) For(token string) *Group {
	g := &Group{all: r.all}
	token = strings.ToLower(strings.TrimSpace(token))
	for _, want := range []string{token, "*"} {
		for _, gr := range r.groups {
			for _, a := range gr.agents {
				if a == want {
					g.rules = append(g.rules, gr.rules...)
					if gr.hasDelay && (!g.hasDelay || gr.crawlDelay > g.crawlDelay) {
						g.crawlDelay, g.hasDelay = gr.crawlDelay, true
					}
					break
				}
			}
		}
		if len(g.rules) > 0 || g.hasDelay || r.names(want) {
			break // a specific group, even an empty one, replaces "*"
		}
	}
	return g
}

// names reports whether some group names agent.
func (r *Robots) names(agent string) bool {
	for _, gr := range r.groups {
		for _, a := range gr.agents {
			if a == agent {
				return true
			}
		}
	}
	return false
}

// Allowed reports whether a URL's path (with its query, as sent in the
// request line) may be fetched.
func (g *Group) Allowed(pathAndQuery string) bool {
	if pathAndQuery == "" {
		pathAndQuery = "/"
	}
	if pathAndQuery == "/robots.txt" {
		return true
	}
	switch g.all {
	case allowAll:
		return true
	case disallowAll:
		return false
	}
	best, allowed := -1, true
	for _, r := range g.rules {
		if !match(r.pattern, pathAndQuery) {
			continue
		}
		n := len(r.pattern)
		if n > best || (n == best && r.allow) {
			best, allowed = n, r.allow
		}
	}
	return allowed
}

// CrawlDelay is the group's Crawl-delay, if it has one.
func (g *Group) CrawlDelay() (time.Duration, bool) { return g.crawlDelay, g.hasDelay }

// match reports whether pattern matches the start of path: "*" matches any
// sequence of characters, a final "$" the end of the path.
func match(pattern, path string) bool {
	anchored := strings.HasSuffix(pattern, "$")
	if anchored {
		pattern = pattern[:len(pattern)-1]
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(path, parts[0]) {
		return false
	}
	pos := len(parts[0])
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last && anchored {
			return strings.HasSuffix(path[pos:], part)
		}
		j := strings.Index(path[pos:], part)
		if j < 0 {
			return false
		}
		pos += j + len(part)
	}
	return !anchored || pos == len(path)
}

// MarshalBinary encodes the group compactly, for a crawler that keeps the
// rules of many hosts on disk rather than their robots.txt files.
func (g *Group) MarshalBinary() ([]byte, error) {
	n := 1 + 1 + binary.MaxVarintLen64 + binary.MaxVarintLen64
	for _, r := range g.rules {
		n += 1 + binary.MaxVarintLen64 + len(r.pattern)
	}
	b := make([]byte, 0, n)
	delay := int64(-1)
	if g.hasDelay {
		delay = int64(g.crawlDelay)
	}
	b = append(b, 1, byte(g.all))
	b = binary.AppendVarint(b, delay)
	b = binary.AppendUvarint(b, uint64(len(g.rules)))
	for _, r := range g.rules {
		allow := byte(0)
		if r.allow {
			allow = 1
		}
		b = append(b, allow)
		b = binary.AppendUvarint(b, uint64(len(r.pattern)))
		b = append(b, r.pattern...)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (g *Group) UnmarshalBinary(b []byte) error {
	bad := fmt.Errorf("robots: corrupt encoded group (%d bytes)", len(b))
	if len(b) < 2 || b[0] != 1 || b[1] > byte(disallowAll) {
		return bad
	}
	out := Group{all: verdict(b[1])}
	b = b[2:]
	delay, w := binary.Varint(b)
	if w <= 0 {
		return bad
	}
	if delay >= 0 {
		out.crawlDelay, out.hasDelay = time.Duration(delay), true
	}
	b = b[w:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return bad
	}
	b = b[w:]
	out.rules = make([]rule, 0, n)
	for range n {
		if len(b) < 1 {
			return bad
		}
		allow := b[0] == 1
		l, w := binary.Uvarint(b[1:])
		if w <= 0 || l > uint64(len(b)-1-w) {
			return bad
		}
		out.rules = append(out.rules, rule{allow: allow, pattern: string(b[1+w : 1+w+int(l)])})
		b = b[1+w+int(l):]
	}
	if len(b) != 0 {
		return bad
	}
	*g = out
	return nil
}
