// colly.go: the Colly side of the harness, run as a child process of its
// own (this binary with PEERS_ROLE=colly) so that its CPU and memory are
// measured like every other crawler's.

package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocolly/colly/v2"
)

// runColly crawls the seeds (arguments) with Colly v2 in async mode, as
// its documentation shows: an OnHTML callback visiting every a[href].
// --dedup adds what a careful user adds after seeing the duplicates:
// Colly's visited check and its mark are two steps, so in async mode two
// goroutines can both pass the check for one URL (and every link found
// starts a goroutine before the limit is taken); a set of links already
// handed to Visit, checked and filled in one step, avoids both.
func runColly(args []string) int {
	fs := flag.NewFlagSet("colly", flag.ContinueOnError)
	dedup := fs.Bool("dedup", false, "skip links already visited before calling Visit")
	parallel := fs.Int("parallel", 16, "requests in flight at most (one LimitRule for every host)")
	delay := fs.Duration("delay", 0, "politeness: one request per host at a time and this delay between them (a LimitRule per seed's host)")
	hosts := fs.String("hosts", "", "the site's hosts, comma-separated (AllowedDomains)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := colly.NewCollector(colly.Async(true), colly.AllowedDomains(strings.Split(*hosts, ",")...))
	if *delay > 0 {
		// A rule per host: Colly matches DomainGlob against the URL's
		// host:port, and one rule's Parallelism is shared by every host it
		// matches.
		for _, seed := range fs.Args() {
			u, err := url.Parse(seed)
			if err != nil {
				fmt.Fprintln(os.Stderr, "colly:", err)
				return 2
			}
			if err := c.Limit(&colly.LimitRule{DomainGlob: u.Host, Parallelism: 1, Delay: *delay}); err != nil {
				fmt.Fprintln(os.Stderr, "colly:", err)
				return 1
			}
		}
	} else if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: *parallel}); err != nil {
		fmt.Fprintln(os.Stderr, "colly:", err)
		return 1
	}
	var seen sync.Map
	var pages, failed atomic.Int64
	c.OnResponse(func(*colly.Response) { pages.Add(1) })
	c.OnError(func(r *colly.Response, err error) {
		failed.Add(1)
		fmt.Fprintf(os.Stderr, "colly: %s: %v\n", r.Request.URL, err)
	})
	c.OnHTML("a[href]", func(e *colly.HTMLElement) {
		link := e.Request.AbsoluteURL(e.Attr("href"))
		if link == "" {
			return
		}
		if *dedup {
			if _, loaded := seen.LoadOrStore(link, struct{}{}); loaded {
				return
			}
		}
		_ = e.Request.Visit(link)
	})
	start := time.Now()
	for _, s := range fs.Args() {
		if *dedup {
			seen.Store(s, struct{}{})
		}
		if err := c.Visit(s); err != nil {
			fmt.Fprintln(os.Stderr, "colly: seed", s, err)
			return 1
		}
	}
	c.Wait()
	fmt.Fprintf(os.Stderr, "colly: %d responses, %d errors in %.2f s\n", pages.Load(), failed.Load(), time.Since(start).Seconds())
	if failed.Load() > 0 {
		return 1
	}
	return 0
}
