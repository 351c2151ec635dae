// requests.go: the request controls' entries (default and per-host
// headers, per-host user agents, proxies, content types) read once, for
// the worker that applies them and the validation that refuses them.

package settings

import (
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// A HostRule applies to the hosts its pattern matches (HostMatches): a
// header (Name, Value) or a user agent (Value).
type HostRule struct {
	Pattern     string
	Name, Value string
}

// reservedHeaders are set by the fetch itself; an entry naming one is
// refused with what to use instead.
var reservedHeaders = map[string]string{
	"host":                "the URL's host is sent",
	"content-length":      "requests are GETs without a body",
	"transfer-encoding":   "requests are GETs without a body",
	"connection":          "the fetcher manages its connections",
	"if-none-match":       "revisits send the stored ETag",
	"if-modified-since":   "revisits send the stored Last-Modified",
	"user-agent":          "set user_agent, or host_user_agents for some hosts",
	"proxy-authorization": "give the proxy's credentials in proxies or proxy_username",
}

// HeaderEntry reads a "Name: value" entry.
func HeaderEntry(entry string) (name, value string, err error) {
	name, value, ok := strings.Cut(entry, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || !httpguts.ValidHeaderFieldName(name) {
		return "", "", fmt.Errorf("%q: want \"Name: value\" with a header name of letters, digits and -", entry)
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		return "", "", fmt.Errorf("%q: the value has a control character", entry)
	}
	if why, ok := reservedHeaders[strings.ToLower(name)]; ok {
		return "", "", fmt.Errorf("%q: %s is not set here: %s", entry, name, why)
	}
	return name, value, nil
}

// HostHeaderEntry reads a "PATTERN Name: value" entry of
// host_request_headers.
func HostHeaderEntry(entry string) (HostRule, error) {
	pattern, header, ok := strings.Cut(strings.TrimSpace(entry), " ")
	if !ok {
		return HostRule{}, fmt.Errorf("%q: want \"HOST-PATTERN Name: value\" (e.g. \"*.example.com Authorization: Bearer abc\")", entry)
	}
	if err := checkHostPattern(pattern); err != nil {
		return HostRule{}, fmt.Errorf("%q: %w", entry, err)
	}
	name, value, err := HeaderEntry(header)
	if err != nil {
		return HostRule{}, fmt.Errorf("%q: %w", entry, err)
	}
	return HostRule{Pattern: strings.ToLower(pattern), Name: name, Value: value}, nil
}

// HostUserAgentEntry reads a "PATTERN user agent" entry of
// host_user_agents.
func HostUserAgentEntry(entry string) (HostRule, error) {
	pattern, ua, ok := strings.Cut(strings.TrimSpace(entry), " ")
	ua = strings.TrimSpace(ua)
	if !ok || ua == "" {
		return HostRule{}, fmt.Errorf("%q: want \"HOST-PATTERN user agent\" (e.g. \"*.example.org MyResearchBot/1.0 (+mailto:me@example.org)\")", entry)
	}
	if err := checkHostPattern(pattern); err != nil {
		return HostRule{}, fmt.Errorf("%q: %w", entry, err)
	}
	if !httpguts.ValidHeaderFieldValue(ua) {
		return HostRule{}, fmt.Errorf("%q: the user agent has a control character", entry)
	}
	return HostRule{Pattern: strings.ToLower(pattern), Value: ua}, nil
}

// checkHostPattern says what is wrong with a host pattern, if anything.
func checkHostPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil || strings.ContainsAny(p, "/:") {
		return fmt.Errorf("host pattern %q: want a host name with * for any part (example.com, *.example.com, *)", p)
	}
	return nil
}

// HostMatches reports whether host (lower-case, without a port) matches a
// host pattern: a name, "*" standing for any run of characters
// (*.example.com: every subdomain, not example.com itself).
func HostMatches(pattern, host string) bool {
	ok, _ := path.Match(pattern, host)
	return ok
}

// ProxyEntry reads an entry of proxies: an http:// URL with an optional
// user:password.
func ProxyEntry(entry string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(entry))
	if err != nil || u.Scheme != "http" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%q: want http://[user:password@]host:port", entry)
	}
	return u, nil
}

// ContentTypeEntry reads an entry of content_types: a media type, or a
// type with * for its subtype (text/*).
func ContentTypeEntry(entry string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(entry))
	if typ, sub, ok := strings.Cut(e, "/"); ok && sub == "*" && typ != "" && !strings.ContainsAny(typ, " ;*") {
		return e, nil
	}
	if mt, params, err := mime.ParseMediaType(e); err != nil || len(params) > 0 || !strings.Contains(mt, "/") || strings.Contains(mt, "*") {
		return "", fmt.Errorf("%q: want a media type (text/html) or a type with any subtype (text/*), without parameters", entry)
	}
	return e, nil
}

// checkRequests validates the request controls.
func (s *Settings) checkRequests(add func(key, format string, args ...any)) {
	for _, e := range s.DefaultRequestHeaders {
		if _, _, err := HeaderEntry(e); err != nil {
			add("default_request_headers", "%v", err)
		}
	}
	for _, e := range s.HostRequestHeaders {
		if _, err := HostHeaderEntry(e); err != nil {
			add("host_request_headers", "%v", err)
		}
	}
	for _, e := range s.HostUserAgents {
		if _, err := HostUserAgentEntry(e); err != nil {
			add("host_user_agents", "%v", err)
		}
	}
	for _, e := range s.Proxies {
		if _, err := ProxyEntry(e); err != nil {
			add("proxies", "%v", err)
		}
	}
	if len(s.Proxies) > 0 && s.ProxyHost != "" {
		add("proxies", "set either proxies or proxy_host, not both")
	}
	for _, e := range s.ContentTypes {
		if _, err := ContentTypeEntry(e); err != nil {
			add("content_types", "%v", err)
		}
	}
	for _, e := range s.DenyExtensions {
		if e == "" || strings.ContainsAny(e, "./ ") {
			add("deny_extensions", "%q: want an extension without its dot (pdf, jpg)", e)
		}
	}
	if s.MaxResponseSize < 0 {
		add("max_response_size", "must not be negative, got %d (0: no limit)", s.MaxResponseSize)
	}
}
