// report.go: what one crawl fetched (from the access log) and the tables
// of medians and ratios over the rounds.

package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"time"
)

// result is one crawl, measured.
type result struct {
	crawler string
	usage
	requests   int      // every request to the site, robots.txt included
	pages      int      // distinct pages of the site fetched with 200
	duplicates int      // page requests beyond the first of each
	missing    []string // site pages never fetched
	unexpected []string // fetched, not pages of the site (or not 200)
	firstAfter time.Duration
	// Politeness: the smallest gap between the starts of two requests to
	// one host, the gaps under the delay, and the ideal wall time (the
	// busiest host's requests one delay apart).
	minGap     time.Duration
	violations int
	ideal      time.Duration
}

// resolution is how precisely the access log times a request's start
// ($msec and $request_time are in milliseconds): a gap counts as under
// the delay when it is shorter by more than that.
const resolution = 2 * time.Millisecond

func analyse(crawler string, s *site, delay time.Duration, u usage, reqs []request) result {
	r := result{crawler: crawler, usage: u}
	inSite := map[string]bool{}
	for _, a := range s.addrs {
		inSite[a] = true
	}
	expected := s.expected()
	fetched := map[string]int{}
	starts := map[string][]time.Time{}
	first := time.Time{}
	for _, q := range reqs {
		if !inSite[q.addr] {
			continue
		}
		r.requests++
		starts[q.addr] = append(starts[q.addr], q.start)
		if first.IsZero() || q.start.Before(first) {
			first = q.start
		}
		if q.uri == "/robots.txt" {
			continue
		}
		key := q.addr + " " + q.uri
		if !expected[key] || q.status != 200 {
			r.unexpected = append(r.unexpected, fmt.Sprintf("%s %d", key, q.status))
			continue
		}
		fetched[key]++
	}
	for _, n := range fetched {
		r.pages++
		r.duplicates += n - 1
	}
	for key := range expected {
		if fetched[key] == 0 {
			r.missing = append(r.missing, key)
		}
	}
	sort.Strings(r.missing)
	if !first.IsZero() {
		r.firstAfter = first.Sub(u.start)
	}
	if delay > 0 {
		r.minGap = time.Duration(1<<63 - 1)
		busiest := 0
		for _, ts := range starts {
			slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
			busiest = max(busiest, len(ts))
			for i := 1; i < len(ts); i++ {
				gap := ts[i].Sub(ts[i-1])
				r.minGap = min(r.minGap, gap)
				if gap < delay-resolution {
					r.violations++
				}
			}
		}
		r.ideal = time.Duration(busiest-1) * delay
	}
	return r
}

// report is every run of the harness.
type report struct {
	site, polite *site
	delay        time.Duration
	crawlers     []crawler
	runs         []result
	politeRuns   []result
}

// summary is one crawler's medians over its runs.
type summary struct {
	n                                  int
	wall, cpu, first                   time.Duration
	rss                                int64
	pagesPerSec, cpuPerPage            float64 // pages/s, ms per page
	masterPerPage                      float64 // spyder's master's CPU, ms per page (0: not spyder)
	pages, duplicates, missing, unexpd int
}

func summarise(runs []result, crawler string) (summary, bool) {
	var walls, cpus, firsts []time.Duration
	var rss []int64
	var rates, perPage, masterPerPage []float64
	var dups []int
	s := summary{}
	for _, r := range runs {
		if r.crawler != crawler {
			continue
		}
		s.n++
		walls = append(walls, r.wall)
		cpus = append(cpus, r.cpu)
		firsts = append(firsts, r.firstAfter)
		rss = append(rss, r.peakRSS)
		rates = append(rates, float64(r.pages)/r.wall.Seconds())
		perPage = append(perPage, r.cpu.Seconds()*1000/float64(max(r.pages, 1)))
		masterPerPage = append(masterPerPage, r.roleCPU["master"].Seconds()*1000/float64(max(r.pages, 1)))
		dups = append(dups, r.duplicates)
		s.pages = max(s.pages, r.pages)
		s.missing = max(s.missing, len(r.missing))
		s.unexpd = max(s.unexpd, len(r.unexpected))
	}
	if s.n == 0 {
		return s, false
	}
	s.wall, s.cpu, s.first, s.rss = median(walls), median(cpus), median(firsts), median(rss)
	s.pagesPerSec, s.cpuPerPage, s.duplicates = median(rates), median(perPage), median(dups)
	s.masterPerPage = median(masterPerPage)
	return s, true
}

func median[T int | int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func (rep *report) print(w io.Writer) {
	if len(rep.runs) > 0 {
		fmt.Fprintf(w, "\nThroughput: %d pages on %d hosts, politeness off, %d requests in flight (medians of the rounds)\n\n",
			len(rep.site.addrs)*rep.site.pages, len(rep.site.addrs), inFlight)
		fmt.Fprintln(w, "| crawler | runs | wall s | pages/s | CPU s, all processes | CPU ms/page | master CPU ms/page | peak RSS MiB | duplicates | missing | first request ms |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
		sums := map[string]summary{}
		for _, c := range rep.crawlers {
			s, ok := summarise(rep.runs, c.name)
			if !ok {
				continue
			}
			sums[c.name] = s
			master := "–"
			if s.masterPerPage > 0 {
				master = fmt.Sprintf("%.3f", s.masterPerPage)
			}
			fmt.Fprintf(w, "| %s | %d | %.1f | %.0f | %.1f | %.3f | %s | %.0f | %d | %d | %d |\n", c.name, s.n, s.wall.Seconds(), s.pagesPerSec,
				s.cpu.Seconds(), s.cpuPerPage, master, float64(s.rss)/(1<<20), s.duplicates, s.missing, s.first.Milliseconds())
		}
		fmt.Fprintln(w)
		if sp, ok := sums["spyder"]; ok {
			for _, other := range []string{"spyder-base", "colly", "colly-documented", "scrapy", "wget"} {
				if o, ok := sums[other]; ok {
					fmt.Fprintf(w, "spyder / %s: %.2f× the pages/s, %.2f× the CPU per page\n", other, sp.pagesPerSec/o.pagesPerSec, sp.cpuPerPage/o.cpuPerPage)
				}
			}
			for _, name := range []string{"spyder", "spyder-base"} {
				without, ok1 := sums[name]
				with, ok2 := sums[name+"-warc"]
				if ok1 && ok2 {
					fmt.Fprintf(w, "%s with WARC / without: %.2f× the CPU\n", name, with.cpu.Seconds()/without.cpu.Seconds())
				}
			}
		}
	}
	if len(rep.politeRuns) > 0 {
		fmt.Fprintf(w, "\nPoliteness: %d pages on %d hosts, %s between two requests to a host, one at a time\n\n",
			len(rep.polite.addrs)*rep.polite.pages, len(rep.polite.addrs), rep.delay)
		fmt.Fprintln(w, "| crawler | wall s | ideal s | wall / ideal | smallest gap s | gaps under the delay | missing | first request ms |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, r := range rep.politeRuns {
			fmt.Fprintf(w, "| %s | %.2f | %.2f | %.3f | %.3f | %d | %d | %d |\n", r.crawler, r.wall.Seconds(), r.ideal.Seconds(),
				r.wall.Seconds()/r.ideal.Seconds(), r.minGap.Seconds(), r.violations, len(r.missing), r.firstAfter.Milliseconds())
		}
	}
}

// problems lists the crawls that did not fetch every page of their site,
// or fetched something else; duplicates are measured, not problems.
func (rep *report) problems() []string {
	var out []string
	for _, r := range append(append([]result{}, rep.runs...), rep.politeRuns...) {
		if len(r.missing) > 0 {
			out = append(out, fmt.Sprintf("%s: %d pages never fetched, e.g. %s", r.crawler, len(r.missing), r.missing[0]))
		}
		if len(r.unexpected) > 0 {
			out = append(out, fmt.Sprintf("%s: %d requests for what is not a page of the site, e.g. %s", r.crawler, len(r.unexpected), r.unexpected[0]))
		}
	}
	return out
}

// freePort finds a port free on every address.
func freePort(addrs []string) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", net.JoinHostPort(addrs[0], "0"))
		if err != nil {
			return 0, fmt.Errorf("finding a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var held []net.Listener
		for _, a := range addrs[1:] {
			m, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, m)
		}
		l.Close()
		for _, m := range held {
			m.Close()
		}
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free on all of %d loopback addresses after 50 tries", len(addrs))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
