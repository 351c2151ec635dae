// site.go: the generated static site every crawler fetches, written to disk
// for nginx to serve: one directory per loopback address.

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// site describes a generated site: hosts are loopback addresses served on
// one port, each with pages pages (page 0 is "/", the seed).
type site struct {
	dir   string   // root; host h's files are in dir/<addr>
	addrs []string // 127.0.x.y, one per host
	port  int
	pages int // per host
}

// siteSpec is what to generate.
type siteSpec struct {
	hosts, pages          int // hosts, pages per host
	minLinks, maxLinks    int // links per page
	minBytes, maxBytes    int // page size
	crossHost             float64
	firstAddr             string // the third octet's value picks the range: 127.0.<n>.1 ...
	seed                  uint64
	allLinksFromIndexOnly bool // politeness site: the index links every page, pages link nowhere
}

// hostAddrs returns n loopback addresses 127.0.<net>.1 ... (n ≤ 254).
func hostAddrs(net, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.0.%d.%d", net, i+1)
	}
	return out
}

// pagePath is the path of page p of a host.
func pagePath(p int) string {
	if p == 0 {
		return "/"
	}
	return fmt.Sprintf("/p/%d.html", p)
}

// fileOf is where pagePath(p) lives under a host's directory.
func fileOf(p int) string {
	if p == 0 {
		return "index.html"
	}
	return filepath.Join("p", fmt.Sprintf("%d.html", p))
}

// words is the filler vocabulary: the pages look like text, with inline
// markup, so that every HTML parser does realistic work.
var words = strings.Fields(`harbour sail mooring keel rigging tide ledger member crew regatta
	jetty buoy anchor winch halyard boom mast spinnaker dinghy skipper
	weather forecast season calendar committee minutes treasurer meeting
	the a of and to in for on with at from by about over under between`)

// generate writes the site under dir and returns it. Every page is
// reachable from its host's "/": page p links page p+1, so the set of
// pages a complete crawl fetches is exactly every page of every host.
func generate(dir string, spec siteSpec, addrs []string, port int) (*site, error) {
	s := &site{dir: dir, addrs: addrs, port: port, pages: spec.pages}
	rng := rand.New(rand.NewPCG(spec.seed, 1))
	for h, addr := range addrs {
		hostDir := filepath.Join(dir, addr)
		if err := os.MkdirAll(filepath.Join(hostDir, "p"), 0o755); err != nil {
			return nil, fmt.Errorf("generating the site: %w", err)
		}
		if err := os.WriteFile(filepath.Join(hostDir, "robots.txt"), []byte("User-agent: *\nAllow: /\n"), 0o644); err != nil {
			return nil, fmt.Errorf("generating the site: %w", err)
		}
		for p := 0; p < spec.pages; p++ {
			var links []string
			switch {
			case spec.allLinksFromIndexOnly && p == 0:
				for q := 1; q < spec.pages; q++ {
					links = append(links, pagePath(q))
				}
			case spec.allLinksFromIndexOnly:
				links = []string{"/"}
			default:
				n := spec.minLinks + rng.IntN(spec.maxLinks-spec.minLinks+1)
				links = append(links, "/")
				if p+1 < spec.pages {
					links = append(links, pagePath(p+1))
				}
				for len(links) < n {
					if len(addrs) > 1 && rng.Float64() < spec.crossHost {
						o := rng.IntN(len(addrs))
						links = append(links, fmt.Sprintf("http://%s:%d%s", addrs[o], port, pagePath(rng.IntN(spec.pages))))
						continue
					}
					links = append(links, pagePath(rng.IntN(spec.pages)))
				}
			}
			size := spec.minBytes + rng.IntN(spec.maxBytes-spec.minBytes+1)
			body := renderPage(rng, h, p, links, size)
			if err := os.WriteFile(filepath.Join(hostDir, fileOf(p)), body, 0o644); err != nil {
				return nil, fmt.Errorf("generating the site: %w", err)
			}
		}
	}
	return s, nil
}

// renderPage writes one page of about size bytes: a head, paragraphs of
// filler with the links spread among them, and a footer.
func renderPage(rng *rand.Rand, h, p int, links []string, size int) []byte {
	var b strings.Builder
	b.Grow(size + 512)
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Host %d page %d</title>\n", h, p)
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width\">\n</head>\n<body>\n")
	b.WriteString("<nav class=\"top\"><ul><li><a href=\"/\" class=\"home\">Home</a></li></ul></nav>\n<main>\n")
	next := 0
	for b.Len() < size || next < len(links) {
		b.WriteString("<p class=\"text\">")
		for w := 0; w < 40; w++ {
			switch rng.IntN(12) {
			case 0:
				fmt.Fprintf(&b, "<b>%s</b> ", words[rng.IntN(len(words))])
			case 1:
				fmt.Fprintf(&b, "<span class=\"note\" title=\"%s\">%s</span> ", words[rng.IntN(len(words))], words[rng.IntN(len(words))])
			default:
				b.WriteString(words[rng.IntN(len(words))])
				b.WriteByte(' ')
			}
		}
		if next < len(links) {
			fmt.Fprintf(&b, "<a href=\"%s\">%s</a>", links[next], words[rng.IntN(len(words))])
			next++
			if next < len(links) && rng.IntN(2) == 0 {
				fmt.Fprintf(&b, ", <a href=\"%s\" class=\"more\">%s</a>", links[next], words[rng.IntN(len(words))])
				next++
			}
		}
		b.WriteString(".</p>\n")
	}
	b.WriteString("</main>\n<footer><p>&copy; the club</p></footer>\n</body></html>\n")
	return []byte(b.String())
}

// expected is every page URL a complete crawl fetches (robots.txt apart).
func (s *site) expected() map[string]bool {
	out := make(map[string]bool, len(s.addrs)*s.pages)
	for _, a := range s.addrs {
		for p := 0; p < s.pages; p++ {
			out[a+" "+pagePath(p)] = true
		}
	}
	return out
}

// seeds is every host's "/".
func (s *site) seeds() []string {
	out := make([]string, len(s.addrs))
	for i, a := range s.addrs {
		out[i] = fmt.Sprintf("http://%s:%d/", a, s.port)
	}
	return out
}
