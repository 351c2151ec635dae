// migrate.go: the Redis store's side of a migration (spyder frontier
// migrate): a crawl no master runs read out (Dump), and a new crawl
// written (NewSink, through sp_import).

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spyder-crawl/spyder/frontier"
	"github.com/spyder-crawl/spyder/urlx"
)

// returnedScore is spyder.lua's RETURNED: the queue score of a URL whose
// lease ended without a result.
const returnedScore = -(1 << 43)

// OpenSource opens the crawl cfg names for a migration; no master may be
// running it.
func OpenSource(cfg Config) (frontier.Source, error) {
	s, err := openExisting(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.refuseRunning(); err != nil {
		s.rdb.Close()
		return nil, err
	}
	return source{s}, nil
}

type source struct{ s *Store }

func (r source) Dump(to frontier.Sink) (frontier.DumpInfo, error) { return r.s.dump(to) }
func (r source) Close() error                                     { return r.s.rdb.Close() }

// refuseRunning fails while a master of the crawl is alive: the crawl
// would change under the migration.
func (s *Store) refuseRunning() error {
	ctx, cancel := s.ctx()
	defer cancel()
	t, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return fmt.Errorf("redis store: %w", err)
	}
	alive, err := s.rdb.ZRangeByScore(ctx, s.ctlKey("alive"), &redis.ZRangeBy{Min: strconv.FormatInt(t.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return fmt.Errorf("redis store: reading the crawl's masters: %w", err)
	}
	if len(alive) > 0 {
		return fmt.Errorf("redis store: crawl %q has masters running (%s): stop them first (spyder stop)", s.crawl, strings.Join(alive, ", "))
	}
	return nil
}

// partState is what a partition keeps besides its URLs.
type partState struct {
	clock, hold, delay, hcount, robots, rtime, n *redis.MapStringStringCmd
}

func (s *Store) dump(to frontier.Sink) (frontier.DumpInfo, error) {
	var info frontier.DumpInfo
	ctx := context.Background()
	seeds, err := s.SeedHosts()
	if err != nil {
		return info, err
	}
	if err := to.SeedHosts(seeds); err != nil {
		return info, err
	}
	parts := make([]partState, s.parts)
	pipe := s.rdb.Pipeline()
	for p := range parts {
		k := s.prefix(p)
		parts[p] = partState{clock: pipe.HGetAll(ctx, k+"clock"), hold: pipe.HGetAll(ctx, k+"hold"), delay: pipe.HGetAll(ctx, k+"delay"),
			hcount: pipe.HGetAll(ctx, k+"hcount"), robots: pipe.HGetAll(ctx, k+"robots"), rtime: pipe.HGetAll(ctx, k+"rtime"), n: pipe.HGetAll(ctx, k+"n")}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return info, fmt.Errorf("redis store: reading the partitions: %w", err)
	}
	var st frontier.Stats
	for _, ps := range parts {
		if err := dumpHosts(ps, to); err != nil {
			return info, err
		}
		if err := dumpRobots(ps, to); err != nil {
			return info, err
		}
		addCounters(&st, ps.n.Val())
	}
	if err := s.Cookies(to.Cookie); err != nil {
		return info, err
	}
	info.Seen = st.Seen
	if err := to.Counters(st); err != nil {
		return info, err
	}
	for p := range parts {
		orphans, err := s.dumpURLs(ctx, p, to)
		info.Orphans += orphans
		if err != nil {
			return info, err
		}
	}
	return info, nil
}

// ms reads a time in Redis ms (0: none).
func ms(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func dumpHosts(ps partState, to frontier.Sink) error {
	hosts := map[string]*frontier.HostSnapshot{}
	host := func(name string) *frontier.HostSnapshot {
		if hosts[name] == nil {
			hosts[name] = &frontier.HostSnapshot{Host: name}
		}
		return hosts[name]
	}
	for h, v := range ps.clock.Val() {
		host(h).NextAllowed = ms(v)
	}
	for h, v := range ps.hold.Val() {
		host(h).HeldUntil = ms(v)
	}
	for h, v := range ps.delay.Val() {
		if d, err := strconv.ParseInt(v, 10, 64); err == nil {
			host(h).Delay, host(h).HasDelay = time.Duration(d)*time.Millisecond, true
		}
	}
	for h, v := range ps.hcount.Val() {
		host(h).Admitted, _ = strconv.ParseInt(v, 10, 64)
	}
	for _, h := range hosts {
		if err := to.Host(*h); err != nil {
			return err
		}
	}
	return nil
}

// dumpRobots reads the rules of each origin, with the expiry and retry
// times the partition keeps beside them (Redis's clock, authoritative).
func dumpRobots(ps partState, to frontier.Sink) error {
	rtime := ps.rtime.Val()
	for origin, v := range ps.robots.Val() {
		var r frontier.RobotsRules
		if err := r.UnmarshalBinary([]byte(v)); err != nil {
			return fmt.Errorf("redis store: robots.txt rules of %s: %w", origin, err)
		}
		if f := strings.Fields(rtime[origin]); len(f) == 3 {
			r.Expires, r.RetryAt = ms(f[0]), ms(f[1])
		}
		if err := to.Robots(origin, r); err != nil {
			return err
		}
	}
	return nil
}

// dumpURLs reads partition p's URLs: those in flight first (returned),
// then each queue in order, then the URLs fetched and not queued. It
// returns the seen-set entries that have no URL anywhere (orphans).
func (s *Store) dumpURLs(ctx context.Context, p int, to frontier.Sink) (orphans int64, err error) {
	k := s.prefix(p)
	pipe := s.rdb.Pipeline()
	buckets := make([]*redis.MapStringStringCmd, s.bkts)
	for b := range buckets {
		buckets[b] = pipe.HGetAll(ctx, k+"s:"+strconv.Itoa(b))
	}
	ready := pipe.ZRange(ctx, k+"ready", 0, -1)
	busy := pipe.HGetAll(ctx, k+"busy")
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("redis store: reading partition %d: %w", p, err)
	}
	// The seen set by fingerprint (bucket and field, as seen() has them);
	// each URL found is taken out, and what is left is neither queued nor
	// in flight.
	records := map[string]string{}
	for b, c := range buckets {
		for field, v := range c.Val() {
			records[strconv.Itoa(b)+":"+field] = v
		}
	}
	take := func(fp string) (string, bool) {
		key := strconv.Itoa((int(fp[0])<<8|int(fp[1]))%s.bkts) + ":" + fp[2:]
		v, ok := records[key]
		delete(records, key)
		return v, ok
	}
	emit := func(m, host string, returned bool, score float64) error {
		u, ok := s.entrySnapshot(m, host, take)
		if !ok {
			return fmt.Errorf("redis store: partition %d: a corrupt queue entry of %s", p, host)
		}
		u.Returned = returned
		if !returned && score >= 0 {
			u.Due = time.UnixMilli(int64(score))
		}
		return to.URL(&u)
	}
	hosts := ready.Val()
	for host, rec := range busy.Val() {
		l, ok := parseLease(rec, host)
		if !ok {
			return 0, fmt.Errorf("redis store: partition %d: a corrupt lease record of %s", p, host)
		}
		if l.kind == "u" {
			if err := emit(l.entry, host, true, 0); err != nil {
				return 0, err
			}
		}
		hosts = append(hosts, host)
	}
	slices.Sort(hosts)
	for _, host := range slices.Compact(hosts) {
		const page = 10000
		for start := int64(0); ; start += page {
			entries, err := s.rdb.ZRangeWithScores(ctx, k+"q:"+host, start, start+page-1).Result()
			if err != nil {
				return 0, fmt.Errorf("redis store: reading the queue of %s: %w", host, err)
			}
			for _, z := range entries {
				if err := emit(z.Member.(string), host, z.Score <= returnedScore, z.Score); err != nil {
					return 0, err
				}
			}
			if len(entries) < page {
				break
			}
		}
	}
	for _, v := range records {
		if v == "" {
			orphans++
			continue
		}
		u, ok := parseRecord(v)
		if !ok {
			return orphans, fmt.Errorf("redis store: partition %d: a corrupt URL record", p)
		}
		if err := to.URL(&u); err != nil {
			return orphans, err
		}
	}
	return orphans, nil
}

// entrySnapshot is the URL of queue entry m (of host) with its record,
// which take hands over from the seen set.
func (s *Store) entrySnapshot(m, host string, take func(fp string) (string, bool)) (frontier.URLSnapshot, bool) {
	e, ok := decodeEntry(m, host)
	if !ok {
		return frontier.URLSnapshot{}, false
	}
	rec, _ := take(m[:fpLen])
	u, ok := parseRecord(rec)
	if !ok { // never fetched: the entry is all there is
		kind := frontier.EventAddedLink
		if e.flags&flagSeed != 0 {
			kind = frontier.EventAddedSeed
		}
		u = frontier.URLSnapshot{Depth: e.depth, Seed: e.flags&flagSeed != 0,
			History: []frontier.Event{{At: e.added, Kind: kind, State: frontier.URLQueued}}}
	}
	u.URL, u.Attempts, u.Level, u.Via, u.HopPath = e.url, e.attempts, e.level, e.via, e.hopPath
	u.State = frontier.URLQueued
	if e.flags&flagScheduled != 0 {
		u.State = frontier.URLScheduled
	}
	return u, true
}

// NewSink makes the crawl cfg names, which must not exist yet, to write a
// migrated crawl into; opts are the crawl's (for robots.txt's
// Crawl-delay cap).
func NewSink(cfg Config, opts frontier.Options) (frontier.Sink, error) {
	cfg.WaitReplicas = 0 // nothing is dispatched
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 10 * time.Second
	}
	s := &Store{opts: opts, cfg: cfg, crawl: cfg.Crawl, log: opts.Logger}
	if s.crawl == "" {
		s.crawl = "spyder"
	}
	if err := s.connect(); err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := s.rdb.Exists(ctx, s.ctlKey("conf")).Result()
	if err == nil && n > 0 {
		err = fmt.Errorf("crawl %q exists at %s: migrate into a new crawl (another frontier_redis_crawl)", s.crawl, strings.Join(cfg.Addrs, ", "))
	}
	if err == nil {
		err = s.setUp()
	}
	if err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redis store: %w", err)
	}
	return &sink{s: s, urls: map[int][]any{}, pipe: s.rdb.Pipeline()}, nil
}

// sink writes a migrated crawl: plain commands for hosts, rules and
// counters, sp_import for the URLs (grouped by partition), all pipelined.
type sink struct {
	s    *Store
	urls map[int][]any // per partition: host, entry, record, queue of each URL not sent yet
	pipe redis.Pipeliner
}

// sinkFlushAt is how many commands the sink pipelines before it sends them.
const sinkFlushAt = 2000

func (k *sink) flushIf(full bool) error {
	if full && k.pipe.Len() < sinkFlushAt {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmds, err := k.pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		for _, c := range cmds {
			if c.Err() != nil && !errors.Is(c.Err(), redis.Nil) {
				return fmt.Errorf("redis store: writing the migrated crawl: %w", c.Err())
			}
		}
		return fmt.Errorf("redis store: writing the migrated crawl: %w", err)
	}
	return nil
}

func (k *sink) SeedHosts(hosts []string) error {
	for _, h := range hosts {
		k.pipe.SAdd(context.Background(), k.s.ctlKey("seeds"), h)
	}
	return k.flushIf(true)
}

// msCeil is t in ms, rounded up (a politeness clock never moves earlier).
func msCeil(t time.Time) int64 { return (t.UnixNano() + 999999) / 1e6 }

func (k *sink) Host(h frontier.HostSnapshot) error {
	ctx, pfx := context.Background(), k.s.prefix(k.s.partitionOf(h.Host))
	if !h.NextAllowed.IsZero() {
		k.pipe.HSet(ctx, pfx+"clock", h.Host, msCeil(h.NextAllowed))
	}
	if !h.HeldUntil.IsZero() {
		k.pipe.HSet(ctx, pfx+"hold", h.Host, msCeil(h.HeldUntil))
		k.pipe.HSet(ctx, pfx+"block", h.Host, msCeil(h.HeldUntil)) // an operator's, as a Pebble store imports every hold
	}
	if h.HasDelay {
		k.pipe.HSet(ctx, pfx+"delay", h.Host, h.Delay.Milliseconds())
	}
	if h.Admitted > 0 {
		k.pipe.HSet(ctx, pfx+"hcount", h.Host, h.Admitted)
	}
	return k.flushIf(true)
}

func (k *sink) Robots(origin string, r frontier.RobotsRules) error {
	rec, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	ctx, pfx := context.Background(), k.s.prefix(k.s.partitionOf(urlx.Host(origin)))
	var expires, retry int64 // (0: none)
	if !r.Expires.IsZero() {
		expires = r.Expires.UnixMilli()
	}
	if !r.RetryAt.IsZero() {
		retry = r.RetryAt.UnixMilli()
	}
	k.pipe.HSet(ctx, pfx+"robots", origin, rec)
	k.pipe.HSet(ctx, pfx+"rtime", origin, fmt.Sprintf("%d %d %d", expires, retry, r.CrawlDelay(k.s.opts).Milliseconds()))
	return k.flushIf(true)
}

func (k *sink) Cookie(key, value string) error {
	k.pipe.HSet(context.Background(), k.s.ctlKey("cookies"), key, value)
	return k.flushIf(true)
}

func (k *sink) Counters(st frontier.Stats) error {
	n := k.s.prefix(0) + "n" // counters are summed over partitions
	fields := counterFields(&st)
	for _, name := range cumulativeCounters {
		if v := *fields[name]; v > 0 {
			k.pipe.HIncrBy(context.Background(), n, name, v)
		}
	}
	return k.flushIf(true)
}

func (k *sink) URL(u *frontier.URLSnapshot) error {
	host := urlx.Host(u.URL)
	if host == "" {
		return fmt.Errorf("redis store: migrating %q: not a URL with a host", u.URL)
	}
	flags := byte(0)
	if u.Seed {
		flags |= flagSeed
	}
	if u.State == frontier.URLScheduled {
		flags |= flagScheduled
	}
	rec, queue := "", ""
	if u.Fetched() {
		rec = encodeRecord(u)
		flags |= flagRecorded
	}
	added := time.Now()
	if len(u.History) > 0 {
		added = u.History[0].At
	}
	m := []byte(entry(u.URL, host, flags, frontier.Discovery{Depth: u.Depth, Via: u.Via, HopPath: u.HopPath}, added))
	m[fpLen+1], m[fpLen+2] = byte(min(u.Attempts, 255)), byte(min(u.Level, 255))
	switch {
	case !u.Queued():
	case u.Returned:
		queue = "r"
	case !u.Fetched() && !u.Due.After(time.Now()):
		queue = "n"
	case u.Due.IsZero():
		queue = strconv.FormatInt(time.Now().UnixMilli(), 10)
	default:
		queue = strconv.FormatInt(u.Due.UnixMilli(), 10)
	}
	p := k.s.partitionOf(host)
	k.urls[p] = append(k.urls[p], host, string(m), rec, queue)
	if len(k.urls[p]) >= 4*maxPerCall {
		k.send(p)
	}
	return k.flushIf(true)
}

// send queues the sp_import of partition p's URLs not sent yet.
func (k *sink) send(p int) {
	if len(k.urls[p]) == 0 {
		return
	}
	args := append([]any{k.s.bkts}, k.urls[p]...)
	k.pipe.FCall(context.Background(), "sp_import", []string{k.s.prefix(p)}, args...)
	delete(k.urls, p)
}

func (k *sink) Close() error {
	for p := range k.urls {
		k.send(p)
	}
	err := k.flushIf(false)
	return errors.Join(err, k.s.rdb.Close())
}
