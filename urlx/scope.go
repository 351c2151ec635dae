// scope.go: the crawl's scope: the seeds' hosts, or positive and negative
// regular expressions.

package urlx

import (
	"fmt"
	"regexp"
	"slices"
)

// Scope decides which links are worth crawling: a URL is in scope if one
// positive regex matches at its start (spyder's RegexScoper, Python's
// re.match: `https?://example\.com/docs/` names a part of a site) and no
// negative regex matches anywhere in it (Scrapy's deny: `\.pdf$` or
// `/login` exclude what they name without a leading `.*`). Matching is
// case-insensitive. With no positive regex configured, the scope is the
// set of hosts of the seeds.
type Scope struct {
	positive  []*regexp.Regexp
	negative  []*regexp.Regexp
	seedHosts hostSet
}

// NewScope compiles the scope regexes: the positive ones anchored at the
// start of the URL, the negative ones not anchored.
func NewScope(positive, negative []string) (*Scope, error) {
	s := &Scope{}
	var err error
	if s.positive, err = compileAll(positive, `(?i)^(?:`); err != nil {
		return nil, err
	}
	if s.negative, err = compileAll(negative, `(?i)(?:`); err != nil {
		return nil, err
	}
	return s, nil
}

func compileAll(exprs []string, prefix string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(exprs))
	for _, e := range exprs {
		re, err := regexp.Compile(prefix + e + `)`)
		if err != nil {
			return nil, fmt.Errorf("scope regex %q: %w", e, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// AddSeed widens a host-based scope (no positive regexes) to the seed's host.
func (s *Scope) AddSeed(normalizedURL string) {
	s.AddHost(Host(normalizedURL))
}

// AddHost widens a host-based scope to host (a lower-case host name).
func (s *Scope) AddHost(host string) {
	if host != "" {
		s.seedHosts.add(host)
	}
}

// HostBased reports whether the scope is the seeds' hosts.
func (s *Scope) HostBased() bool { return len(s.positive) == 0 }

// AddHosts is AddHost for many hosts at once (a restarted crawl's seed
// hosts, a million of them on a broad crawl): the set is sized once
// instead of growing step by step.
func (s *Scope) AddHosts(hosts []string) {
	s.seedHosts.reserve(len(hosts))
	for _, h := range hosts {
		s.AddHost(h)
	}
}

// SeedHostCount is the number of hosts of a host-based scope.
func (s *Scope) SeedHostCount() int { return s.seedHosts.len() }

// FirstSeedHosts lists the first n hosts of a host-based scope in sorted
// order (all of them when there are fewer): what a log line can show of a
// scope that may hold millions.
func (s *Scope) FirstSeedHosts(n int) []string {
	out := make([]string, 0, min(n, s.seedHosts.len()))
	for _, h := range s.seedHosts.names {
		if len(out) == n && (n == 0 || h >= out[n-1]) {
			continue
		}
		i, _ := slices.BinarySearch(out, h)
		if len(out) == n {
			out = out[:n-1]
		}
		out = slices.Insert(out, i, h)
	}
	return out
}

// Allows reports whether url is in scope.
func (s *Scope) Allows(url string) bool {
	if s.HostBased() {
		if !s.seedHosts.has(Host(url)) {
			return false
		}
	} else if !matchAny(s.positive, url) {
		return false
	}
	return !matchAny(s.negative, url)
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// DeniedByNegative reports whether a negative regex matches url.
func (s *Scope) DeniedByNegative(url string) bool { return matchAny(s.negative, url) }
