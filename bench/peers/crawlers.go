// crawlers.go: how each crawler is started, for the throughput rounds
// (politeness off, 16 requests in flight) and the politeness round (one
// request per host at a time, a fixed delay between requests to a host).

package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed spider.py
var scrapySpider []byte

// tools are the programs the crawlers run as.
type tools struct {
	spyder string // the spyder binary
	base   string // another spyder binary to compare with (-base), or ""
	self   string // this binary (Colly runs in it, PEERS_ROLE=colly)
	python string // Debian's python3, which has python3-scrapy
	wget   string
}

// crawlRun is one crawl: where it may write, what it starts from, and
// the politeness delay (0: politeness off).
type crawlRun struct {
	work  string // an empty directory of its own
	site  *site
	delay time.Duration
}

func (r crawlRun) hosts() string { return strings.Join(r.site.addrs, ",") }

func (r crawlRun) seedsFile() (string, error) {
	name := filepath.Join(r.work, "seeds.txt")
	return name, os.WriteFile(name, []byte(strings.Join(r.site.seeds(), "\n")+"\n"), 0o644)
}

// crawler is one contestant.
type crawler struct {
	name   string
	polite bool // takes part in the politeness round
	// command builds the crawl's command line.
	command func(t tools, r crawlRun) (*exec.Cmd, error)
}

// inFlight is the concurrency every crawler gets in the throughput rounds.
const inFlight = 16

var crawlers = append(spyderCrawlers("spyder", func(t tools) string { return t.spyder }), []crawler{
	{name: "colly", polite: true, command: func(t tools, r crawlRun) (*exec.Cmd, error) {
		return collyCommand(t, r, true), nil
	}},
	{name: "colly-documented", command: func(t tools, r crawlRun) (*exec.Cmd, error) {
		return collyCommand(t, r, false), nil
	}},
	{name: "scrapy", polite: true, command: scrapyCommand},
	{name: "wget", command: wgetCommand},
}...)

// spyderCrawlers are spyder with JSON Lines output, and with WARC too,
// run from the binary bin picks.
func spyderCrawlers(name string, bin func(tools) string) []crawler {
	return []crawler{
		{name: name, polite: true, command: func(t tools, r crawlRun) (*exec.Cmd, error) {
			return spyderCommand(bin(t), r, false)
		}},
		{name: name + "-warc", command: func(t tools, r crawlRun) (*exec.Cmd, error) {
			return spyderCommand(bin(t), r, true)
		}},
	}
}

// spyderCommand: spyder node, a master and 2 workers of 8 fetches each,
// on the embedded defaults (durable Pebble state, robots.txt obeyed) with
// JSON Lines output, and WARC too when warc is set. Politeness off is
// single_host with no delay; on, it is the default multiple_host with a
// fixed delay.
func spyderCommand(bin string, r crawlRun, warc bool) (*exec.Cmd, error) {
	seeds, err := r.seedsFile()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"SPYDER_SEEDS_FILE":                  seeds,
		"SPYDER_OUTPUT_JSONL":                filepath.Join(r.work, "pages.jsonl"),
		"SPYDER_STATE_DIR":                   filepath.Join(r.work, "state"),
		"SPYDER_MAX_CLIENTS":                 strconv.Itoa(inFlight / 2),
		"SPYDER_LOG_FORMAT":                  "json",
		"SPYDER_LOG_LEVEL_MASTER":            "warn",
		"SPYDER_LOG_LEVEL_WORKER":            "warn",
		"SPYDER_MASTER_PROGRESS_INTERVAL":    "0",
		"SPYDER_FRONTIER_CRAWL_DELAY_FACTOR": "0",
		"SPYDER_MAX_DEPTH":                   "0",
	}
	if r.delay > 0 {
		env["SPYDER_FRONTIER_CLASS"] = "multiple_host"
		env["SPYDER_FRONTIER_MIN_DELAY"] = fmt.Sprint(r.delay.Seconds())
	} else {
		env["SPYDER_FRONTIER_CLASS"] = "single_host"
		env["SPYDER_FRONTIER_MIN_DELAY"] = "0"
	}
	if warc {
		env["SPYDER_OUTPUT_WARC_DIR"] = filepath.Join(r.work, "warc")
	}
	cmd := exec.Command(bin, "node", "--workers", "2", "--until-done")
	cmd.Dir = r.work
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = logFile(r.work, "spyder.log")
	return cmd, nil
}

// collyCommand: this binary as the Colly crawler (colly.go).
func collyCommand(t tools, r crawlRun, dedup bool) *exec.Cmd {
	args := []string{"--hosts", r.hosts(), "--parallel", strconv.Itoa(inFlight)}
	if dedup {
		args = append(args, "--dedup")
	}
	if r.delay > 0 {
		args = append(args, "--delay", r.delay.String())
	}
	cmd := exec.Command(t.self, append(args, r.site.seeds()...)...)
	cmd.Env = append(os.Environ(), "PEERS_ROLE=colly")
	cmd.Dir = r.work
	cmd.Stderr = logFile(r.work, "colly.log")
	return cmd
}

// scrapyCommand: Debian's Scrapy running spider.py, robots.txt obeyed.
func scrapyCommand(t tools, r crawlRun) (*exec.Cmd, error) {
	seeds, err := r.seedsFile()
	if err != nil {
		return nil, err
	}
	spider := filepath.Join(r.work, "spider.py")
	if err := os.WriteFile(spider, scrapySpider, 0o644); err != nil {
		return nil, err
	}
	set := []string{
		"LOG_LEVEL=WARNING", "TELNETCONSOLE_ENABLED=False", "ROBOTSTXT_OBEY=True",
		"CONCURRENT_REQUESTS=" + strconv.Itoa(inFlight),
		"CONCURRENT_REQUESTS_PER_DOMAIN=" + strconv.Itoa(inFlight),
		"DOWNLOAD_DELAY=0", "RANDOMIZE_DOWNLOAD_DELAY=False",
		// What Scrapy's documentation advises for crawls of many hosts: its
		// default scheduler hands the downloader the newest requests first,
		// which are mostly one host's, and that host's slot then holds all
		// of CONCURRENT_REQUESTS while the other hosts wait.
		"SCHEDULER_PRIORITY_QUEUE=scrapy.pqueues.DownloaderAwarePriorityQueue",
	}
	if r.delay > 0 {
		set = append(set, "CONCURRENT_REQUESTS_PER_DOMAIN=1", fmt.Sprintf("DOWNLOAD_DELAY=%g", r.delay.Seconds()))
	}
	args := []string{"-m", "scrapy", "runspider", spider, "-a", "seeds=" + seeds, "-a", "hosts=" + r.hosts()}
	for _, s := range set {
		args = append(args, "-s", s)
	}
	cmd := exec.Command(t.python, args...)
	cmd.Dir = r.work
	cmd.Stderr = logFile(r.work, "scrapy.log")
	return cmd, nil
}

// wgetCommand: GNU wget's recursive download (one connection at a time,
// robots.txt obeyed), deleting each file once its links are read. It
// starts from the first host's "/" only: wget forgets what it fetched
// between the URLs of its command line, so ten seeds would fetch the whole
// site ten times; every page is reachable from any host's "/" (-H follows
// the links to the other hosts).
func wgetCommand(t tools, r crawlRun) (*exec.Cmd, error) {
	args := []string{"-r", "-l", "inf", "-H", "--no-verbose", "--delete-after", "-P", filepath.Join(r.work, "wget")}
	cmd := exec.Command(t.wget, append(args, r.site.seeds()[0])...)
	cmd.Dir = r.work
	cmd.Stderr = logFile(r.work, "wget.log")
	return cmd, nil
}

// logFile is a crawler's stderr, kept in its work directory for when a
// run goes wrong.
func logFile(dir, name string) *os.File {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	return f
}
