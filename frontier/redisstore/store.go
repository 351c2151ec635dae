// Package redisstore keeps a crawl's frontier in Redis (a Redis Cluster,
// or one Redis for small set-ups), so that several masters on several
// machines crawl from one frontier: the second frontier.Store, under the
// same crawl policy as the Pebble one.
//
// The host space is cut into a fixed number of partitions, each in one
// slot (its keys share the hash tag {pN}); a server-side library of Redis
// Functions (spyder.lua) changes a partition atomically, with Redis's own
// clock, so a host's politeness clock is read and moved on in the same
// step that hands out its URL, whichever master asks. Masters own
// partitions through leases with fencing tokens (claims.go); any master
// applies any result (leases live in Redis).
//
// Files by operation: store.go (opening, the client, errors), keys.go
// (partitions, keys, queue entries), admit.go, dispatch.go, result.go
// (leases ending, the group commit), hostctl.go, claims.go (partition
// ownership, the masters' directory, the crawl's control), stats.go,
// inspect.go (the read-only report).
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/frontier"
)

//go:embed spyder.lua
var library string

// libraryVersion changes with every change to spyder.lua that an older
// master could not work with; a crawl records the version it was created
// with.
const libraryVersion = "3"

// Config is what the Redis store needs besides the frontier's options.
type Config struct {
	// Addrs are seed addresses (host:port) of the Redis Cluster, or the
	// address of one Redis.
	Addrs []string
	// Username and Password authenticate (ACL or requirepass); empty: none.
	Username, Password string
	// Crawl names the crawl: every key starts with it, so that several
	// crawls share one cluster.
	Crawl string
	// Partitions is the number of partitions a new crawl is cut into
	// (fixed once the crawl exists; the stored value wins).
	Partitions int
	// SeenBuckets is the number of hashes per partition the seen set is
	// spread over (fixed once the crawl exists), so that each stays small
	// enough for Redis's compact encoding: about 100 URLs per bucket.
	SeenBuckets int
	// Master names this master in the directory and in the partitions it
	// owns; Endpoints is what workers are told to connect to.
	Master    string
	Endpoints string
	// WaitReplicas is how many replicas a dispatch waits for (WAIT, on the
	// same connection) before its URLs go out, so that a failover cannot
	// lose a politeness clock's step; 0 waits for none. WaitTimeout bounds
	// the wait.
	WaitReplicas int
	WaitTimeout  time.Duration
	// OwnershipTTL is how long a partition stays a master's without a
	// renewal (6 s when 0); renewals come every third of it.
	OwnershipTTL time.Duration
	// OpTimeout bounds each call to Redis (2 s when 0): a dead primary
	// must not hold the master's loop while the cluster fails over.
	OpTimeout time.Duration
}

// Store is the Redis store. Like every frontier.Store it is used by one
// goroutine (the master's loop); its ownership of partitions is kept by a
// goroutine of its own (claims.go).
type Store struct {
	opts  frontier.Options
	cfg   Config
	log   zerolog.Logger
	rdb   redis.UniversalClient
	ccl   *redis.ClusterClient // nil for one Redis
	crawl string               // key prefix
	parts int
	bkts  int

	// skew is Redis's clock minus this machine's, in ms, as last seen:
	// ready times come from Redis and the loop sleeps on local time.
	skew int64
	// due is, per partition this master owns, the Redis time (ms) its
	// first host may dispatch, or -1 when it has none.
	due map[int]int64

	own *ownership

	decided []*crawluri.CrawlUri
	rules   map[string]cachedRules // by origin

	// pending are the outcomes of results Commit applies; settling their
	// leases (a second result for one is stale).
	pending []pending
	// cookies are the cookie entries Commit writes (frontier.CookieKeeper;
	// "": delete), last write of each key winning.
	cookies  map[string]string
	settling map[int64]bool
	// leases are this master's dispatches whose results are to come.
	leases map[int64]dispatchedLease
	// noReplicaUntil: a primary (by address) whose replicas did not
	// confirm a dispatch; dispatches there skip WAIT until then.
	noReplicaUntil map[string]time.Time

	statsMu sync.Mutex
	stats   statsCache

	hosts hostLister // the dashboard's last listing (hosts.go)

	// unavailable is the last error of an operation the loop shrugs off
	// (a failover in progress); logged at most every few seconds.
	lastUnavailableLog time.Time

	closeOnce sync.Once
	closeErr  error
}

type cachedRules struct {
	expires int64 // Redis ms of the rules' expiry, as the partition has it
	rules   frontier.RobotsRules
}

// Open connects to Redis, loads the library on every primary, creates the
// crawl's configuration when it is new (or reads it), and starts claiming
// partitions. It returns once this master owns its first share (or the
// others own every partition).
func Open(opts frontier.Options, cfg Config) (*Store, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("redis store: no address (frontier_redis_addrs)")
	}
	if cfg.Crawl == "" {
		cfg.Crawl = "spyder"
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 256
	}
	if cfg.SeenBuckets <= 0 {
		cfg.SeenBuckets = 64
	}
	if cfg.OwnershipTTL <= 0 {
		cfg.OwnershipTTL = 6 * time.Second
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 2 * time.Second
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 50 * time.Millisecond
	}
	if opts.LeaseTimeout <= 0 {
		opts.LeaseTimeout = 90 * time.Second
	}
	s := &Store{opts: opts, cfg: cfg, log: opts.Logger, crawl: cfg.Crawl, due: map[int]int64{}, rules: map[string]cachedRules{}, settling: map[int64]bool{}, leases: map[int64]dispatchedLease{}, noReplicaUntil: map[string]time.Time{}}
	if err := s.connect(); err != nil {
		return nil, err
	}
	if err := s.setUp(); err != nil {
		s.rdb.Close()
		return nil, err
	}
	s.own = newOwnership(s)
	if err := s.own.start(); err != nil {
		s.rdb.Close()
		return nil, err
	}
	return s, nil
}

// clientLog passes go-redis's own messages (a node refusing connections
// while the cluster fails over) to the master's log as structured
// records, instead of the unstructured lines go-redis writes to stderr.
// go-redis has one logger per process: the first store opened sets it.
type clientLog struct{ log zerolog.Logger }

func (l clientLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug().Str("component", "go-redis").Msg(fmt.Sprintf(format, v...))
}

var clientLogOnce sync.Once

// dialAttempts is how often the client dials a node before the call
// fails: once. A dead primary refuses at once, and the store's loop tries
// again on its next turn anyway; go-redis's default (5 attempts, 100 ms
// apart) held every call to a dead primary half a second, and with it the
// dispatch of the primaries that are up and the renewal of ownership.
const dialAttempts = 1

// connect makes the client: a cluster client when the first node that
// answers says cluster_enabled, else a client of that one Redis.
func (s *Store) connect() error {
	clientLogOnce.Do(func() { redis.SetLogger(clientLog{s.log}) })
	var errs []error
	for _, addr := range s.cfg.Addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, Username: s.cfg.Username, Password: s.cfg.Password,
			DialTimeout: s.cfg.OpTimeout, ReadTimeout: s.cfg.OpTimeout, WriteTimeout: s.cfg.OpTimeout, DialerRetries: dialAttempts})
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
		info, err := c.Info(ctx, "cluster").Result()
		cancel()
		if err != nil {
			c.Close()
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		if !strings.Contains(info, "cluster_enabled:1") {
			if len(s.cfg.Addrs) > 1 {
				c.Close()
				return fmt.Errorf("redis store: %s is not in cluster mode, and several addresses were given (frontier_redis_addrs): give one address for one Redis, or the seed nodes of a Redis Cluster", addr)
			}
			s.rdb = c
			return nil
		}
		c.Close()
		s.ccl = redis.NewClusterClient(&redis.ClusterOptions{Addrs: s.cfg.Addrs, Username: s.cfg.Username, Password: s.cfg.Password,
			DialTimeout: s.cfg.OpTimeout, ReadTimeout: s.cfg.OpTimeout, WriteTimeout: s.cfg.OpTimeout, DialerRetries: dialAttempts,
			// A dead primary refuses dials until the cluster promotes its
			// replica; go-redis then only learns the new map on a MOVED or
			// its periodic reload (redis/go-redis#3979), so the store
			// reloads it on network errors (unavailable) and keeps
			// redirects few: each call has OpTimeout anyway.
			MaxRedirects: 3})
		s.rdb = s.ccl
		return nil
	}
	return fmt.Errorf("redis store: no Redis answered at %s: %w", strings.Join(s.cfg.Addrs, ", "), errors.Join(errs...))
}

// setUp loads the library on every primary and creates or reads the
// crawl's configuration.
func (s *Store) setUp() error {
	ctx, cancel := s.ctx()
	defer cancel()
	load := func(ctx context.Context, c *redis.Client) error {
		if err := c.FunctionLoadReplace(ctx, library).Err(); err != nil {
			return fmt.Errorf("redis store: loading the function library on %s: %w", c.Options().Addr, err)
		}
		return nil
	}
	if s.ccl != nil {
		if err := s.ccl.ForEachMaster(ctx, load); err != nil {
			return err
		}
	} else if err := load(ctx, s.rdb.(*redis.Client)); err != nil {
		return err
	}
	if s.cfg.WaitReplicas < 0 {
		n, err := s.fewestReplicas(ctx)
		if err != nil {
			return err
		}
		s.cfg.WaitReplicas = min(n, 1)
		s.log.Info().Int("wait_replicas", s.cfg.WaitReplicas).Int("fewest_replicas", n).
			Msg("redis store: dispatches wait for this many replicas (frontier_redis_wait_replicas -1: 1 when every primary has a replica)")
	}
	conf := s.ctlKey("conf")
	pipe := s.rdb.TxPipeline()
	pipe.HSetNX(ctx, conf, "partitions", s.cfg.Partitions)
	pipe.HSetNX(ctx, conf, "seen_buckets", s.cfg.SeenBuckets)
	pipe.HSetNX(ctx, conf, "library", libraryVersion)
	pipe.HSetNX(ctx, conf, "created", time.Now().UTC().Format(time.RFC3339))
	all := pipe.HGetAll(ctx, conf)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis store: creating the crawl %q: %w", s.crawl, err)
	}
	c := all.Val()
	var err error
	if s.parts, err = strconv.Atoi(c["partitions"]); err != nil || s.parts <= 0 {
		return fmt.Errorf("redis store: crawl %q: bad partitions %q in %s", s.crawl, c["partitions"], conf)
	}
	if s.bkts, err = strconv.Atoi(c["seen_buckets"]); err != nil || s.bkts <= 0 {
		return fmt.Errorf("redis store: crawl %q: bad seen_buckets %q in %s", s.crawl, c["seen_buckets"], conf)
	}
	if v := c["library"]; v != libraryVersion {
		return fmt.Errorf("redis store: crawl %q was made by a spyder whose Redis library is version %s, this one has %s: finish it with that version (its keys differ)", s.crawl, v, libraryVersion)
	}
	if s.parts != s.cfg.Partitions || s.bkts != s.cfg.SeenBuckets {
		s.log.Info().Int("partitions", s.parts).Int("seen_buckets", s.bkts).
			Msg("redis store: the crawl exists; its partitions and seen buckets are those it was created with, not the settings'")
	}
	return nil
}

// fewestReplicas is the least number of replicas connected to a primary.
func (s *Store) fewestReplicas(ctx context.Context) (int, error) {
	var mu sync.Mutex
	fewest := -1
	count := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("redis store: asking %s for its replicas: %w", c.Options().Addr, err)
		}
		n := 0
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		mu.Lock()
		if fewest < 0 || n < fewest {
			fewest = n
		}
		mu.Unlock()
		return nil
	}
	var err error
	if s.ccl != nil {
		err = s.ccl.ForEachMaster(ctx, count)
	} else {
		err = count(ctx, s.rdb.(*redis.Client))
	}
	return max(fewest, 0), err
}

// ctx bounds one call to Redis.
func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.OpTimeout)
}

// unavailable reports whether err is Redis (or the way to it) failing, as
// in a failover, rather than a bug or bad data; such an error is retried
// by the loop's next turn. It reloads the cluster's slot map, which
// go-redis would otherwise keep pointing at a dead primary.
func (s *Store) unavailable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var rerr redis.Error
	transient := !errors.As(err, &rerr) || redis.HasErrorPrefix(err, "CLUSTERDOWN") || redis.HasErrorPrefix(err, "TRYAGAIN") ||
		redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK") || redis.HasErrorPrefix(err, "LOADING") ||
		redis.HasErrorPrefix(err, "READONLY") || redis.HasErrorPrefix(err, "NOREPLICAS") || redis.HasErrorPrefix(err, "MASTERDOWN")
	if transient && s.ccl != nil {
		s.ccl.ReloadState(context.Background())
	}
	return transient
}

// shrug logs an error the loop goes on after (at most every 5 s).
func (s *Store) shrug(what string, err error) {
	if time.Since(s.lastUnavailableLog) < 5*time.Second {
		return
	}
	s.lastUnavailableLog = time.Now()
	s.log.Warn().Err(err).Str("op", what).Msg("redis store: Redis is unavailable (failing over?); trying again")
}

// Close applies what is pending, hands this master's partitions back,
// leaves the directory and closes the client.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		cerr := s.Commit()
		s.hosts.close()
		s.own.stop()
		s.closeErr = errors.Join(cerr, s.rdb.Close())
	})
	return s.closeErr
}

// PolitenessScope implements frontier.Store: one clock per host.
func (s *Store) PolitenessScope(host string) string { return host }

// Decided implements frontier.Store.
func (s *Store) Decided() []*crawluri.CrawlUri {
	out := s.decided
	s.decided = nil
	return out
}

// Partitions is the number of partitions of the crawl.
func (s *Store) Partitions() int { return s.parts }

// Owned lists the partitions this master owns now.
func (s *Store) Owned() []int { return s.own.owned() }

var _ frontier.Store = (*Store)(nil)
