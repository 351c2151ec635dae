// validate.go: checks of the settings' values and of ZeroMQ endpoints.

package settings

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/spyder-crawl/spyder/internal/dnscache"
	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// productToken is RFC 9309's product token of a crawler.
var productToken = regexp.MustCompile(`^[A-Za-z_-]+$`)

// Validate checks every setting and reports all problems at once, each
// naming its setting. The error wraps ErrInvalid.
func (s *Settings) Validate() error {
	var p []error
	add := func(key, format string, args ...any) {
		p = append(p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	for key, lvl := range map[string]string{"log_level_master": s.LogLevelMaster, "log_level_worker": s.LogLevelWorker} {
		if _, err := zerolog.ParseLevel(strings.ToLower(lvl)); err != nil || lvl == "" {
			add(key, "%q is not a log level (trace, debug, info, warn, error)", lvl)
		}
	}
	switch s.LogFormat {
	case "auto", "json", "console":
	default:
		add("log_format", "%q is not one of auto, json, console", s.LogFormat)
	}

	for _, e := range s.Extra {
		if k, _, ok := strings.Cut(e, "="); !ok || strings.TrimSpace(k) == "" {
			add("extra", "%q is not name=value (e.g. title_csv=titles.csv)", e)
		}
	}
	if strings.TrimSpace(s.UserAgent) == "" {
		add("user_agent", "must not be empty")
	}
	if !productToken.MatchString(s.RobotsUserAgent) {
		add("robots_user_agent", "%q is not a product token (RFC 9309: letters, '-' and '_' only, e.g. spyder)", s.RobotsUserAgent)
	}
	if s.MaxURLLength < 16 {
		add("max_url_length", "must be at least 16, got %d", s.MaxURLLength)
	}
	if s.StopAfterPages < 0 {
		add("stop_after_pages", "must not be negative, got %d (0: no limit)", s.StopAfterPages)
	}
	if s.SitemapMaxURLs < 1 {
		add("sitemap_max_urls", "must be at least 1, got %d", s.SitemapMaxURLs)
	}
	if s.SitemapMaxSize < 1 {
		add("sitemap_max_size", "must be at least 1 byte, got %d", s.SitemapMaxSize)
	}
	if s.SitemapRoot && !s.runs("sitemap") {
		add("sitemap_root", "no pipeline runs the sitemap processor: add it to spyder_extractor_pipeline (e.g. [sitemap, limiter, html_link_extractor, http_extractor])")
	}
	if s.MaxLinksPerPage < 1 {
		add("max_links_per_page", "must be at least 1, got %d", s.MaxLinksPerPage)
	}
	if s.MaxURLsPerHost < 0 {
		add("max_urls_per_host", "must not be negative, got %d", s.MaxURLsPerHost)
	}
	if s.MaxDepth < 0 || s.MaxDepth > 65535 {
		add("max_depth", "must be between 0 (no limit) and 65535, got %d", s.MaxDepth)
	}
	if s.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(s.MetricsListen); err != nil {
			add("metrics_listen", "%q is not host:port: %v", s.MetricsListen, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add("metrics_listen", "%q: port %q is not 0-65535", s.MetricsListen, port)
		}
	}
	if s.ObeyRobotsTxt && s.RobotsTxtTTL <= 0 {
		add("robots_txt_ttl", "must be greater than 0, got %v", s.RobotsTxtTTL)
	}
	positive := map[string]int{
		"max_clients":                          s.MaxClients,
		"master_inflight_per_worker":           s.MasterInflightPerWorker,
		"heartbeat_liveness":                   s.HeartbeatLiveness,
		"zeromq_master_push_hwm":               s.ZeromqMasterPushHWM,
		"zeromq_worker_proc_extractor_pub_hwm": s.ZeromqWorkerProcExtractorPubHWM,
		"frontier_queue_budget":                s.FrontierQueueBudget,
		"size_dns_cache":                       s.SizeDNSCache,
	}
	for key, v := range positive {
		if v < 1 {
			add(key, "must be at least 1, got %d", v)
		}
	}
	for key, v := range map[string]int{"frontier_active_queues": s.FrontierActiveQueues, "frontier_queue_budget_punish": s.FrontierQueueBudgetPunish} {
		if v < 0 {
			add(key, "must not be negative, got %d", v)
		}
	}
	switch s.QueueAssignmentClass {
	case "host_based", "ip_based":
	default:
		add("queue_assignment_class", "%q is not one of host_based, ip_based", s.QueueAssignmentClass)
	}
	if _, err := dnscache.ParseStatic(s.StaticDNSMappings); err != nil {
		add("static_dns_mappings", "%v", err)
	}
	if s.FrontierCacheSize < 1<<20 {
		add("frontier_cache_size", "must be at least 1 MiB (1048576), got %d", s.FrontierCacheSize)
	}
	if s.FrontierMaxRetries < 0 || s.FrontierMaxRetries > 30 {
		add("frontier_max_retries", "must be between 0 and 30, got %d", s.FrontierMaxRetries)
	}
	if s.PrioritizerNumPriorities < 1 || s.PrioritizerNumPriorities > 255 {
		add("prioritizer_num_priorities", "must be between 1 and 255, got %d", s.PrioritizerNumPriorities)
	}
	if s.MaxRedirects < 0 {
		add("max_redirects", "must not be negative, got %d", s.MaxRedirects)
	}
	if strings.TrimSpace(s.ProxyHost) != "" && (s.ProxyPort < 1 || s.ProxyPort > 65535) {
		add("proxy_port", "must be a port (1-65535) when proxy_host is set, got %d", s.ProxyPort)
	}
	if (s.CurveServerSecretKey == "") != (s.CurveAllowedWorkers == "") {
		add("curve_allowed_workers", "curve_server_secret_key and curve_allowed_workers go together: set both (CURVE) or neither")
	}
	if (s.CurveServerPublicKey == "") != (s.CurveSecretKey == "") {
		add("curve_secret_key", "curve_server_public_key and curve_secret_key go together: set both (CURVE) or neither")
	}
	if s.WARCMaxFileSize < 1<<20 {
		add("warc_max_file_size", "must be at least 1 MiB (1048576), got %d", s.WARCMaxFileSize)
	}
	if err := warcfile.CheckGzipLevel(s.WARCGzipLevel); err != nil {
		add("warc_gzip_level", "%v", err)
	}
	if s.MaxContentLength < 1 {
		add("max_content_length", "must be at least 1 byte, got %d", s.MaxContentLength)
	}
	if !(s.FrontierCrawlDelayFactor >= 0 && s.FrontierCrawlDelayFactor <= 1000) {
		add("frontier_crawl_delay_factor", "must be between 0 and 1000, got %v", s.FrontierCrawlDelayFactor)
	}

	mustBePositive := map[string]time.Duration{
		"request_timeout":       s.RequestTimeout,
		"connect_timeout":       s.ConnectTimeout,
		"master_lease_timeout":  s.MasterLeaseTimeout,
		"master_shutdown_grace": s.MasterShutdownGrace,
		"worker_shutdown_grace": s.WorkerShutdownGrace,
		"heartbeat_interval":    s.HeartbeatInterval,
		"proxy_backoff":         s.ProxyBackoff,
	}
	for key, d := range mustBePositive {
		if s.DerivedFrom(key) != "" {
			continue // reported under the setting it follows
		}
		if d <= 0 {
			add(key, "must be greater than 0, got %v", d)
		}
	}
	for key, d := range map[string]time.Duration{
		"frontier_min_delay": s.FrontierMinDelay, "master_progress_interval": s.MasterProgressInterval,
		"frontier_retry_backoff": s.FrontierRetryBackoff, "frontier_max_retry_after": s.FrontierMaxRetryAfter,
		"prioritizer_crawl_delta": s.PrioritizerCrawlDelta, "robots_max_crawl_delay": s.RobotsMaxCrawlDelay,
		"stop_after_time": s.StopAfterTime,
	} {
		if d < 0 {
			add(key, "must not be negative, got %v", d)
		}
	}
	if s.MasterLeaseTimeout > 0 && s.RequestTimeout > 0 && s.MasterLeaseTimeout <= s.RequestTimeout {
		add("master_lease_timeout", "must be longer than request_timeout (%v), got %v: a lease would expire while its fetch may still succeed", s.RequestTimeout, s.MasterLeaseTimeout)
	}

	for key, list := range map[string][]string{"regex_scope_positive": s.RegexScopePositive, "regex_scope_negative": s.RegexScopeNegative} {
		for _, re := range list {
			if _, err := regexp.Compile(re); err != nil {
				add(key, "%q does not compile: %v", re, err)
			}
		}
	}
	for key, list := range map[string][]string{"spyder_extractor_pipeline": s.SpyderExtractorPipeline, "spyder_scoper_pipeline": s.SpyderScoperPipeline} {
		for _, name := range list {
			if strings.TrimSpace(name) == "" {
				add(key, "contains an empty processor name")
			}
		}
	}
	if s.FrontierClass == "" {
		add("frontier_class", "must not be empty")
	}
	s.validateRedis(add)
	s.checkFields(add)
	s.checkRequests(add)
	if s.WARCWriter != WARCByWorkers && s.WARCWriter != WARCByMaster {
		add("warc_writer", "%q: %s (each worker writes its own fetches) or %s", s.WARCWriter, WARCByWorkers, WARCByMaster)
	}
	switch s.WARCDedup {
	case DedupSameURL, DedupOff:
	case DedupAnyURL:
		if s.WARCWriter != WARCByMaster {
			add("warc_dedup", "%s needs warc_writer: %s (one writer keeps the index of every payload; workers on other machines cannot share it), or use %s", DedupAnyURL, WARCByMaster, DedupSameURL)
		}
	default:
		add("warc_dedup", "%q: %s (the same URL's last payload), %s (any URL's, with warc_writer: master) or %s", s.WARCDedup, DedupSameURL, DedupAnyURL, DedupOff)
	}

	for key, ep := range map[string]string{
		"zeromq_master_push":               s.ZeromqMasterPush,
		"zeromq_master_sub":                s.ZeromqMasterSub,
		"zeromq_mgmt_master":               s.ZeromqMgmtMaster,
		"zeromq_mgmt_worker":               s.ZeromqMgmtWorker,
		"zeromq_worker_proc_fetcher_pull":  s.ZeromqWorkerProcFetcherPull,
		"zeromq_worker_proc_extractor_pub": s.ZeromqWorkerProcExtractorPub,
	} {
		if s.DerivedFrom(key) != "" {
			continue // reported under the setting it follows
		}
		if err := CheckEndpoint(ep); err != nil {
			add(key, "%v", err)
		}
	}
	for _, ep := range s.WorkerMasters {
		if err := CheckEndpoint(ep); err != nil {
			add("worker_masters", "%v", err)
		}
	}
	if h := s.MasterAdvertiseHost; h != "" && (strings.ContainsAny(h, "/:[] ") || h == "*") {
		add("master_advertise_host", "%q: a host name or IPv4 address workers can reach (no scheme, no port)", h)
	}
	if len(p) > 0 {
		return invalid(p)
	}
	return nil
}

// CheckEndpoint validates a ZeroMQ endpoint: tcp://HOST:PORT (HOST may be *
// for a bind, PORT may be * for an ephemeral bind), ipc://PATH or
// inproc://NAME.
func CheckEndpoint(ep string) error {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		return fmt.Errorf("%q is not an endpoint (want tcp://host:port, ipc://path or inproc://name)", ep)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return fmt.Errorf("%q has no host:port: %v", ep, err)
		}
		if host == "" {
			return fmt.Errorf("%q has an empty host (use * to bind every interface)", ep)
		}
		if port == "*" {
			return nil
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has port %q, want 1-65535 or *", ep, port)
		}
	case "ipc", "inproc":
		if rest == "" {
			return fmt.Errorf("%q has an empty %s name", ep, scheme)
		}
	default:
		return fmt.Errorf("%q has transport %q, want tcp, ipc or inproc", ep, scheme)
	}
	return nil
}

// ErrWildcardConnect is returned by CheckConnectable.
var ErrWildcardConnect = errors.New("a wildcard address cannot be connected to")

// CheckConnectable reports an endpoint a worker cannot connect to: a tcp
// wildcard host or port, typically a derived address copied from a master's
// bind address. key names the setting for the message.
func CheckConnectable(key, ep, from string) error {
	if !strings.HasPrefix(ep, "tcp://") {
		return nil
	}
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(ep, "tcp://"))
	if host == "*" || host == "0.0.0.0" || host == "::" || port == "*" {
		hint := ""
		if from != "" {
			hint = fmt.Sprintf(" (derived from %s); set %s to the master's address", from, key)
		}
		return fmt.Errorf("%w: %s: %q: %w%s", ErrInvalid, key, ep, ErrWildcardConnect, hint)
	}
	return nil
}

// crawlName is what frontier_redis_crawl may be: it starts Redis keys, and
// a brace would change their hash tag.
var crawlName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// validateRedis checks the settings of frontier_store.
func (s *Settings) validateRedis(add func(key, format string, args ...any)) {
	switch s.FrontierStore {
	case "pebble":
		return
	case "redis":
	default:
		add("frontier_store", "%q is not a store: pebble (embedded, one master) or redis (shared by several masters)", s.FrontierStore)
		return
	}
	if len(s.FrontierRedisAddrs) == 0 {
		add("frontier_redis_addrs", "frontier_store redis needs the host:port of a Redis Cluster node (or of one Redis)")
	}
	for _, a := range s.FrontierRedisAddrs {
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			add("frontier_redis_addrs", "%q is not host:port (a Redis node, such as 127.0.0.1:6379)", a)
		}
	}
	if !crawlName.MatchString(s.FrontierRedisCrawl) {
		add("frontier_redis_crawl", "%q: 1 to 64 letters, digits, '_', '.', ':' or '-'", s.FrontierRedisCrawl)
	}
	if s.FrontierRedisPartitions < 1 || s.FrontierRedisPartitions > 16384 {
		add("frontier_redis_partitions", "%d: from 1 to 16384", s.FrontierRedisPartitions)
	}
	if s.FrontierRedisSeenBuckets < 1 || s.FrontierRedisSeenBuckets > 65536 {
		add("frontier_redis_seen_buckets", "%d: from 1 to 65536", s.FrontierRedisSeenBuckets)
	}
	if s.FrontierRedisWaitReplicas < -1 {
		add("frontier_redis_wait_replicas", "%d: -1 (1 when the primaries have replicas) or a number of replicas", s.FrontierRedisWaitReplicas)
	}
	if s.FrontierRedisOwnershipTTL < 600*time.Millisecond {
		add("frontier_redis_ownership_ttl", "%v: at least 0.6 s (renewals come every sixth of it)", s.FrontierRedisOwnershipTTL)
	}
	if s.FrontierClass != "multiple_host" {
		add("frontier_class", "%q: frontier_store redis keeps a politeness clock per host, as multiple_host does; single_host (one clock for the whole crawl) needs no second master", s.FrontierClass)
	}
	if s.QueueAssignmentClass != "host_based" {
		add("queue_assignment_class", "%q: frontier_store redis is host_based (per-IP politeness across masters is not supported)", s.QueueAssignmentClass)
	}
	if s.StateDir != "" && s.StateDir != Defaults().StateDir {
		// (The default is simply not used.)
		add("state_dir", "%q: frontier_store redis keeps the crawl in Redis, not in a state_dir: remove the setting", s.StateDir)
	}
}
