// migrate_cmd.go: spyder frontier migrate, a stopped crawl moved from a
// state directory into Redis (when it outgrows one machine) or back.

package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/frontier/redisstore"
)

func runMigrate(args, environ []string, stdout, stderr io.Writer) int {
	sf := newSettingFlags("spyder frontier migrate --to redis|pebble [flags]", stdout, stderr)
	to := sf.fs.String("to", "", "where the crawl goes: redis (from the state directory into the crawl frontier_redis_* name, which must not exist) or pebble (from that Redis crawl into the state directory, which must hold none)")
	dir := sf.fs.String("dir", "", "the state directory (default: state_dir)")
	sf.addSettings()
	s, err := sf.parse(args, environ)
	if err != nil {
		return configError(stderr, err)
	}
	if *to != "redis" && *to != "pebble" {
		return configError(stderr, fmt.Errorf("%w: --to %q: redis or pebble", errUsage, *to))
	}
	stateDir := *dir
	if stateDir == "" && s.FrontierStore != "redis" {
		stateDir = s.StateDir
	}
	if stateDir == "" {
		return configError(stderr, fmt.Errorf("%w: no state directory: give --dir", errUsage))
	}
	// The Redis side is checked as a master on it would check it, whatever
	// frontier_store says now.
	rs := *s
	rs.FrontierStore, rs.StateDir = "redis", ""
	if err := rs.Validate(); err != nil {
		return configError(stderr, err)
	}
	log := newLogger(stderr, s.LogFormat, s.LogLevelMaster, "migrate", "")
	opts := frontier.Options{
		Dir: stateDir, LeaseTimeout: s.MasterLeaseTimeout, MaxCrawlDelay: s.RobotsMaxCrawlDelay, MinDelay: s.FrontierMinDelay,
		ActiveQueues: s.FrontierActiveQueues, QueueSelector: s.QueueSelectorClass, Logger: log,
	}
	cfg := redisstore.Config{Addrs: s.FrontierRedisAddrs, Username: s.FrontierRedisUsername, Password: s.FrontierRedisPassword,
		Crawl: s.FrontierRedisCrawl, Partitions: s.FrontierRedisPartitions, SeenBuckets: s.FrontierRedisSeenBuckets}
	redisName := fmt.Sprintf("redis crawl %q at %v", cfg.Crawl, cfg.Addrs)
	start := time.Now()
	// The source first: nothing is made for a crawl that is not there.
	var (
		src      frontier.Source
		sink     frontier.Sink
		from, on string
	)
	if *to == "redis" {
		from, on = stateDir, redisName
		src, err = frontier.OpenDir(stateDir)
	} else {
		from, on = redisName, stateDir
		src, err = redisstore.OpenSource(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "spyder: migrate: %v\n", err)
		return exitFail
	}
	defer src.Close()
	if *to == "redis" {
		sink, err = redisstore.NewSink(cfg, opts)
	} else {
		sink, err = frontier.NewDirSink(s.FrontierClass, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "spyder: migrate: %v\n", err)
		return exitFail
	}
	m, err := frontier.Migrate(src, sink)
	if err != nil {
		fmt.Fprintf(stderr, "spyder: migrate from %s to %s: %v (the source is unchanged; %s holds part of it: remove it before trying again)\n", from, on, err, on)
		return exitFail
	}
	fmt.Fprintf(stdout, "migrated %d URLs from %s to %s in %v: %d queued, %d scheduled for a revisit, %d in flight at the stop (queued first), %d done, %d failed; %d hosts, %d robots.txt rules, %d seed hosts, %d cookies\n",
		m.URLs, from, on, time.Since(start).Round(time.Millisecond), m.Queued, m.Scheduled, m.Returned, m.Done, m.Failed, m.Hosts, m.Robots, m.SeedHosts, m.Cookies)
	if m.Source.Orphans > 0 {
		fmt.Fprintf(stdout, "%d seen-set entries had no URL to move (the source keeps them as fingerprints only)\n", m.Source.Orphans)
	}
	return exitOK
}
