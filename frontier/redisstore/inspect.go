// inspect.go: the read-only report of a Redis crawl (spyder frontier
// inspect): counts, seed hosts, per-host queues, leases in flight, one
// URL's record and history. It reads; it claims nothing and writes
// nothing, so it runs beside the crawl's masters.

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// Inspect reports the crawl cfg names. url, when not empty (normalized),
// asks for that URL's record and history; maxLeases bounds the leases
// listed.
func Inspect(cfg Config, url string, maxLeases int) (*frontier.Report, error) {
	s, err := openExisting(cfg)
	if err != nil {
		return nil, err
	}
	defer s.rdb.Close()
	ctx, cancel := s.ctx()
	defer cancel()
	r := &frontier.Report{Dir: fmt.Sprintf("redis crawl %q (%d partitions) at %s", s.crawl, s.parts, strings.Join(cfg.Addrs, ", "))}
	if r.Stats, _, err = s.readStats(false); err != nil {
		return nil, err
	}
	if r.SeedHosts, err = s.SeedHosts(); err != nil {
		return nil, err
	}
	sort.Strings(r.SeedHosts)
	if err := s.inspectQueues(ctx, r, maxLeases); err != nil {
		return nil, err
	}
	if url != "" {
		if r.URL, err = s.urlReport(ctx, url); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// openExisting connects to the crawl cfg names, which must exist, without
// joining it: for the commands that read a crawl (inspect, migrate).
func openExisting(cfg Config) (*Store, error) {
	if cfg.Crawl == "" {
		cfg.Crawl = "spyder"
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 10 * time.Second
	}
	s := &Store{cfg: cfg, crawl: cfg.Crawl, log: zerolog.Nop()}
	if err := s.connect(); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	conf, err := s.rdb.HGetAll(ctx, s.ctlKey("conf")).Result()
	if err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redis store: reading the crawl %q: %w", s.crawl, err)
	}
	if len(conf) == 0 {
		s.rdb.Close()
		return nil, fmt.Errorf("redis store: no crawl %q at %s (frontier_redis_crawl names it)", s.crawl, strings.Join(cfg.Addrs, ", "))
	}
	s.parts, _ = strconv.Atoi(conf["partitions"])
	s.bkts, _ = strconv.Atoi(conf["seen_buckets"])
	if s.parts <= 0 || s.bkts <= 0 {
		s.rdb.Close()
		return nil, fmt.Errorf("redis store: crawl %q: bad configuration %v", s.crawl, conf)
	}
	return s, nil
}

// inspectQueues lists every host with URLs queued or in flight, and the
// leases in flight.
func (s *Store) inspectQueues(ctx context.Context, r *frontier.Report, maxLeases int) error {
	type part struct {
		ready       *redis.ZSliceCmd
		busy, clock *redis.MapStringStringCmd
	}
	pipe := s.rdb.Pipeline()
	parts := make([]part, s.parts)
	for p := range parts {
		pfx := s.prefix(p)
		parts[p] = part{ready: pipe.ZRangeWithScores(ctx, pfx+"ready", 0, -1), busy: pipe.HGetAll(ctx, pfx+"busy"),
			clock: pipe.HGetAll(ctx, pfx+"clock")}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis store: reading the queues: %w", err)
	}
	type hostAt struct {
		p    int
		host string
	}
	var hosts []hostAt
	sizes := s.rdb.Pipeline()
	var counts []*redis.IntCmd
	for p, c := range parts {
		seen := map[string]bool{}
		for _, z := range c.ready.Val() {
			seen[z.Member.(string)] = true
		}
		for h, rec := range c.busy.Val() {
			seen[h] = true
			if l, ok := parseLease(rec, h); ok && len(r.Leases) < maxLeases {
				r.Leases = append(r.Leases, frontier.LeaseReport{ID: l.id, URL: l.url, Deadline: l.expires})
			}
		}
		for h := range seen {
			hosts = append(hosts, hostAt{p, h})
			counts = append(counts, sizes.ZCard(ctx, s.prefix(p)+"q:"+h))
		}
	}
	sort.Slice(r.Leases, func(i, j int) bool { return r.Leases[i].Deadline.Before(r.Leases[j].Deadline) })
	if _, err := sizes.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis store: reading the queues: %w", err)
	}
	for i, h := range hosts {
		q := frontier.QueueReport{Name: h.host, Queued: counts[i].Val()}
		if ms, err := strconv.ParseInt(parts[h.p].clock.Val()[h.host], 10, 64); err == nil && ms > 0 {
			q.NextAllowed = time.UnixMilli(ms)
		}
		r.Queues = append(r.Queues, q)
	}
	sort.Slice(r.Queues, func(i, j int) bool {
		if r.Queues[i].Queued != r.Queues[j].Queued {
			return r.Queues[i].Queued > r.Queues[j].Queued
		}
		return r.Queues[i].Name < r.Queues[j].Name
	})
	return nil
}

// urlReport is the record of url (normalized) and its history.
func (s *Store) urlReport(ctx context.Context, u string) (*frontier.URLReport, error) {
	rep := &frontier.URLReport{URL: u}
	k := urlx.KeyOf(u)
	p := s.partitionOf(urlx.Host(u))
	bucket := (int(k[0])<<8 | int(k[1])) % s.bkts
	v, err := s.rdb.HGet(ctx, s.prefix(p)+"s:"+strconv.Itoa(bucket), string(k[2:fpLen])).Result()
	if errors.Is(err, redis.Nil) {
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis store: reading the record of %s: %w", u, err)
	}
	rep.Known = true
	if v == "" {
		rep.State = "queued (never fetched)"
		return rep, nil
	}
	rec, ok := parseRecord(v)
	if !ok {
		return nil, fmt.Errorf("redis store: the record of %s is corrupt", u)
	}
	rep.State = frontier.StateName(rec.State)
	rep.Status, rep.Attempts, rep.Level = int(rec.Status), rec.Attempts, rec.Level
	rep.ETag, rep.LastMod, rep.Capture = rec.ETag, rec.LastModified, rec.WARCCapture
	for _, e := range rec.History {
		rep.History = append(rep.History, frontier.HistoryEntry{At: e.At, Event: frontier.DescribeEvent(e.Kind, e.State), Value: e.Value})
	}
	return rep, nil
}

// inflightLease is what a lease record (spyder.lua's parse_lease) says.
type inflightLease struct {
	id         int64
	kind       string
	url, entry string // entry: the queue entry of a URL's lease
	expires    time.Time
}

// parseLease decodes the lease record of host: lease, kind, master,
// delays, dispatch time, expiry, then the queue entry (a robots.txt: its
// origin).
func parseLease(rec, host string) (inflightLease, bool) {
	f := strings.SplitN(rec, "\x00", 8)
	if len(f) != 8 {
		return inflightLease{}, false
	}
	id, err := strconv.ParseInt(f[0], 10, 64)
	expires, err2 := strconv.ParseInt(f[6], 10, 64)
	if err != nil || err2 != nil {
		return inflightLease{}, false
	}
	l := inflightLease{id: id, kind: f[1], expires: time.UnixMilli(expires)}
	if l.kind == "r" {
		l.url = f[7] + "/robots.txt"
		return l, true
	}
	e, ok := decodeEntry(f[7], host)
	l.url, l.entry = e.url, f[7]
	return l, ok
}
