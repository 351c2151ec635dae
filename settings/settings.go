// Package settings holds every spyder setting: its name, default, meaning and
// validation, and loads them in layers: defaults < config file < environment
// (SPYDER_<NAME>) < command-line flags.
//
// Setting names are the original spyder's, lower-cased (ZEROMQ_MASTER_PUSH is
// zeromq_master_push in a YAML file and SPYDER_ZEROMQ_MASTER_PUSH in the
// environment). Addresses that spyder derived from other addresses at import
// time are derived here after all layers are loaded, so overriding the master's
// address moves the workers' address with it (spyder's multi-node bug).
// Only this package knows setting names.
package settings

import (
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/internal/warcfile"
)

// Settings is the effective configuration of one process. Durations are
// written in files and the environment as seconds ("20", "0.5") or as Go
// durations ("20s", "500ms").
type Settings struct {
	// Logging.
	LogLevelMaster string `koanf:"log_level_master" doc:"log level of the master: trace, debug, info, warn, error"`
	LogLevelWorker string `koanf:"log_level_worker" doc:"log level of workers: trace, debug, info, warn, error"`
	LogFormat      string `koanf:"log_format" doc:"log format on stderr: auto (console on a terminal, JSON otherwise), json, console"`

	// Fetcher (workers).
	UserAgent             string        `koanf:"user_agent" doc:"User-Agent header sent with every request"`
	MaxClients            int           `koanf:"max_clients" doc:"concurrent HTTP requests per worker process"`
	RequestTimeout        time.Duration `koanf:"request_timeout" doc:"limit on a whole request, connect to last body byte (seconds)"`
	ConnectTimeout        time.Duration `koanf:"connect_timeout" doc:"limit on the TCP/TLS connect phase (seconds; defaults to request_timeout)"`
	FollowRedirects       bool          `koanf:"follow_redirects" doc:"follow redirects inside the fetch; when false a 3xx is returned and its Location is queued"`
	MaxRedirects          int           `koanf:"max_redirects" doc:"redirects followed per fetch when follow_redirects is true"`
	ValidateCertificates  bool          `koanf:"validate_certificates" doc:"verify TLS certificates"`
	MaxContentLength      int64         `koanf:"max_content_length" doc:"bytes of a response body kept; longer bodies are truncated and marked"`
	ProxyHost             string        `koanf:"proxy_host" doc:"HTTP proxy every fetch goes through (empty: the HTTP_PROXY/HTTPS_PROXY environment, if set)"`
	ProxyPort             int           `koanf:"proxy_port" doc:"port of proxy_host (required with it)"`
	ProxyUsername         string        `koanf:"proxy_username" doc:"proxy authentication (optional)"`
	ProxyPassword         string        `koanf:"proxy_password" secret:"true" doc:"proxy authentication (optional)"`
	Proxies               []string      `koanf:"proxies" secret:"true" doc:"several HTTP proxies, http://[user:password@]host:port, taken in turn; a proxy that fails to connect is left out for proxy_backoff, doubling while it keeps failing (instead of proxy_host)"`
	ProxyBackoff          time.Duration `koanf:"proxy_backoff" doc:"how long a proxy that failed is left out at first (seconds or a duration); it doubles with each failure in a row, up to 32 times"`
	Cookies               bool          `koanf:"cookies" doc:"keep the cookies sites set and send them back (RFC 6265, like a browser; the master keeps them with the crawl state, so a restarted crawl keeps its sessions); false sends none"`
	DefaultRequestHeaders []string      `koanf:"default_request_headers" doc:"headers sent with every request, \"Name: value\" (Scrapy's DEFAULT_REQUEST_HEADERS)"`
	HostRequestHeaders    []string      `koanf:"host_request_headers" doc:"headers sent to some hosts, \"HOST-PATTERN Name: value\" (e.g. \"*.example.com Authorization: Bearer abc\"); they replace a default header of the same name"`
	HostUserAgents        []string      `koanf:"host_user_agents" doc:"User-Agent for some hosts instead of user_agent, \"HOST-PATTERN user agent\"; the first entry that matches applies"`
	ContentTypes          []string      `koanf:"content_types" doc:"media types whose bodies are downloaded and kept (text/html, text/*; empty: all); a response of another type is recorded with its status and headers, its body neither read nor archived nor parsed"`
	MaxResponseSize       int64         `koanf:"max_response_size" doc:"a response whose body is larger (by its Content-Length, or as read) is recorded with its status and headers but no body: not archived, not parsed (0: no limit; max_content_length instead keeps the start of a large body)"`
	DenyExtensions        []string      `koanf:"deny_extensions" doc:"links whose path ends in one of these extensions are not crawled (pdf, zip; Scrapy's IGNORED_EXTENSIONS); counted as denied_extension"`

	// Processors (workers).
	SpyderExtractorPipeline  []string `koanf:"spyder_extractor_pipeline" doc:"processors run on every fetched page, in order"`
	SpyderScoperPipeline     []string `koanf:"spyder_scoper_pipeline" doc:"processors run after the extractors, in order"`
	RegexScopePositive       []string `koanf:"regex_scope_positive" doc:"a link is in scope if one of these regexes matches at the start of the URL (anchored there, case-insensitive: 'https?://example\\.com/docs/'); empty = the seeds' hosts"`
	RegexScopeNegative       []string `koanf:"regex_scope_negative" doc:"a link is out of scope if one of these regexes matches anywhere in the URL (not anchored, case-insensitive, as Scrapy's deny: '\\.pdf$', '/login')"`
	HTTPExtractor404Redirect []string `koanf:"http_extractor_404_redirect" doc:"redirect targets that are never queued (soft-404 landing pages)"`
	HTMLLinkExtractorTags    []string `koanf:"html_link_extractor_tags" doc:"elements whose links html_link_extractor follows: a, area, frame, iframe, link"`
	RemoveQueryNames         []string `koanf:"remove_query_names" doc:"query parameters strip_query_params removes from links (case-insensitive)"`
	CSSExtract               []string `koanf:"css_extract" doc:"fields the css_extract processor takes from HTML pages: name=selector (the first match's text, whitespace collapsed), name=selector@attr (its attribute), name[]=selector (every match, a JSON array); e.g. 'title=title', 'price=span.price', 'images[]=img@src'"`
	URLCanonicalization      []string `koanf:"url_canonicalization" doc:"canonicalization steps before a URL is deduplicated: resolve_dot_segments, normalize_percent_encoding, remove_fragment (scheme and host lower-casing and default-port removal always apply)"`

	// Master and frontier.
	MasterCallback            string        `koanf:"master_callback" doc:"seeding callback run once before the master starts (registered name)"`
	MasterSinks               []string      `koanf:"master_sinks" doc:"outputs the master writes every result to, by registered name, in order: jsonl (writes when output_jsonl is set), csv (when output_csv is set), warc (when output_warc_dir is set), crawl_log (when output_crawl_log is set), and a custom binary's own"`
	SeedsFile                 string        `koanf:"seeds_file" path:"file" doc:"file of seed URLs, one per line, read by the seedfile callback"`
	OutputJSONL               string        `koanf:"output_jsonl" path:"file" doc:"JSON Lines file with one object per fetched URL (empty: none)"`
	OutputCSV                 string        `koanf:"output_csv" path:"file" doc:"CSV file with one row per fetched URL: url, status, content_type, bytes, fetch_time, time, then the output_fields (empty: none)"`
	OutputFields              []string      `koanf:"output_fields" doc:"extracted fields (css_extract's, a processor's own) written to JSON Lines' fields object and as CSV columns, in order; empty: css_extract's names"`
	OutputCrawlLog            string        `koanf:"output_crawl_log" path:"file" doc:"crawl log in the layout of Heritrix's crawl.log, one line per result: time, status, size, URL, hop path, via, type, worker, fetch start+duration, digest, annotations (empty: none)"`
	OutputWARCDir             string        `koanf:"output_warc_dir" path:"file" doc:"directory of WARC 1.1 files with every response and its request (empty: none)"`
	WARCPrefix                string        `koanf:"warc_prefix" doc:"prefix of the WARC file names"`
	WARCWriter                string        `koanf:"warc_writer" doc:"who writes the WARC records of output_warc_dir: worker (each worker its own fetches, in files of its own, before it reports them: bodies stay where they were fetched; a worker's own output_warc_dir, if set, is where it writes) or master (each exchange travels to the master as the worker recorded it, and the master writes one series of files)"`
	WARCDedup                 string        `koanf:"warc_dedup" doc:"which fetches are archived as revisit records (identical-payload-digest) instead of whole: url (a payload the same URL was last archived with), any (a payload archived for any URL: needs warc_writer master, which keeps an index of payload digests in output_warc_dir/payload-index) or off"`
	WARCMaxFileSize           int64         `koanf:"warc_max_file_size" doc:"bytes after which a WARC file is closed and the next one begun"`
	WARCGzipLevel             int           `koanf:"warc_gzip_level" doc:"compression level of the WARC records, 1 (fastest) to 9 (smallest files): 3 costs half the CPU of 6 for files about 7 % larger"`
	MaxURLLength              int           `koanf:"max_url_length" doc:"longer URLs (after canonicalization) are not crawled: links are counted and dropped, seeds refused (crawler traps grow URLs without end)"`
	StopAfterPages            int64         `koanf:"stop_after_pages" doc:"the master ends its run cleanly after this many results (0 = no limit; the final summary's reason says so; the results in flight still come back)"`
	StopAfterTime             time.Duration `koanf:"stop_after_time" doc:"the master ends its run cleanly after this long (seconds or a duration; 0 = no limit)"`
	SitemapRoot               bool          `koanf:"sitemap_root" doc:"with the sitemap processor: also fetch /sitemap.xml of each seed's host (sitemaps robots.txt does not name)"`
	SitemapMaxURLs            int           `koanf:"sitemap_max_urls" doc:"URLs taken from one sitemap file (the sitemaps protocol allows 50,000); the rest are counted and dropped"`
	SitemapMaxSize            int64         `koanf:"sitemap_max_size" doc:"bytes of one sitemap uncompressed (the protocol allows 50 MB); a larger file, a gzip bomb, is ignored and counted"`
	MaxLinksPerPage           int           `koanf:"max_links_per_page" doc:"links of one result the master considers; the rest are counted and dropped (a broken or hostile worker cannot flood the frontier)"`
	MaxURLsPerHost            int64         `koanf:"max_urls_per_host" doc:"URLs admitted per host at most; further links to it are counted and dropped (0 = no limit; the last bound on a trap)"`
	MaxDepth                  int           `koanf:"max_depth" doc:"links followed from a seed at most; deeper links are counted and dropped (0 = no limit; an endless calendar ends here)"`
	ObeyRobotsTxt             bool          `koanf:"obey_robots_txt" doc:"fetch each site's robots.txt first and keep to it (RFC 9309): disallowed URLs are recorded with status 910, never fetched"`
	RobotsUserAgent           string        `koanf:"robots_user_agent" doc:"product token whose robots.txt rules apply (letters, '-' and '_'); groups for '*' apply when none names it"`
	RobotsTxtTTL              time.Duration `koanf:"robots_txt_ttl" doc:"how long a site's robots.txt rules are used before it is fetched again (seconds)"`
	RobotsMaxCrawlDelay       time.Duration `koanf:"robots_max_crawl_delay" doc:"cap on a robots.txt Crawl-delay, which raises the pause between requests to its host (seconds; 0 = ignore Crawl-delay)"`
	FrontierClass             string        `koanf:"frontier_class" doc:"frontier implementation (registered name): multiple_host (a politeness clock per host, one request per host in flight) or single_host (one politeness clock for the whole crawl)"`
	StateDir                  string        `koanf:"state_dir" path:"file" doc:"directory of the master's durable crawl state (one master per directory; empty = in memory, lost at exit)"`
	FrontierMinDelay          time.Duration `koanf:"frontier_min_delay" doc:"minimum time between two requests to the same host (seconds)"`
	FrontierCrawlDelayFactor  float64       `koanf:"frontier_crawl_delay_factor" doc:"after a fetch, wait max(factor x request time, frontier_min_delay)"`
	FrontierMaxRetries        int           `koanf:"frontier_max_retries" doc:"retries of a URL answered with 5xx, 429 or a transport error before it is recorded as failed"`
	FrontierRetryBackoff      time.Duration `koanf:"frontier_retry_backoff" doc:"wait before the first retry, doubled for each further one (seconds)"`
	FrontierMaxRetryAfter     time.Duration `koanf:"frontier_max_retry_after" doc:"cap on how long a host's Retry-After (429, 503) holds it (seconds)"`
	FrontierActiveQueues      int           `koanf:"frontier_active_queues" doc:"multiple_host: hosts (or IPs) dispatching at once; the others wait for a slot (0 = all)"`
	FrontierQueueBudget       int           `koanf:"frontier_queue_budget" doc:"multiple_host: results an active host may have before it is rotated out for a waiting one"`
	FrontierQueueBudgetPunish int           `koanf:"frontier_queue_budget_punish" doc:"multiple_host: budget a 5xx or transport error costs (other results cost 1)"`
	QueueSelectorClass        string        `koanf:"queue_selector_class" doc:"multiple_host: which waiting host takes a free slot: biased (older hosts more often, P ~ 1/rank) or uniform"`
	QueueAssignmentClass      string        `koanf:"queue_assignment_class" doc:"multiple_host: politeness per host (host_based) or per IP address (ip_based, resolved by the master)"`
	StaticDNSMappings         []string      `koanf:"static_dns_mappings" doc:"host=ip entries used instead of DNS (by workers to connect, and by the master for ip_based queue assignment)"`
	SizeDNSCache              int           `koanf:"size_dns_cache" doc:"host names whose address is cached (each worker resolves a host once per 10 minutes)"`
	FrontierCacheSize         int64         `koanf:"frontier_cache_size" doc:"bytes of the frontier store's block cache (fixed, not growing with the crawl)"`
	FrontierStore             string        `koanf:"frontier_store" doc:"where the frontier lives: pebble (embedded in state_dir, one master) or redis (a Redis Cluster, or one Redis, shared by any number of masters; see frontier_redis_*)"`
	FrontierRedisAddrs        []string      `koanf:"frontier_redis_addrs" doc:"frontier_store redis: host:port of seed nodes of the Redis Cluster (one is enough, the rest are learnt) or of one Redis"`
	FrontierRedisCrawl        string        `koanf:"frontier_redis_crawl" doc:"frontier_store redis: name of the crawl, which starts each of its keys (several crawls can share a cluster); every master of one crawl names the same"`
	FrontierRedisPartitions   int           `koanf:"frontier_redis_partitions" doc:"frontier_store redis: partitions the hosts are cut into when the crawl is made (fixed from then on; at least 10 x the masters you may run)"`
	FrontierRedisSeenBuckets  int           `koanf:"frontier_redis_seen_buckets" doc:"frontier_store redis: hashes per partition holding the seen set, fixed when the crawl is made (expected URLs / partitions / 100 keeps each in Redis's compact encoding)"`
	FrontierRedisWaitReplicas int           `koanf:"frontier_redis_wait_replicas" doc:"frontier_store redis: replicas that must have a dispatch (WAIT) before its URLs go out, so a failover cannot undo a host's politeness step (-1 = 1 when the primaries have replicas at start, else 0)"`
	FrontierRedisUsername     string        `koanf:"frontier_redis_username" doc:"frontier_store redis: ACL user name (empty: the default user)"`
	FrontierRedisPassword     string        `koanf:"frontier_redis_password" secret:"true" doc:"frontier_store redis: password (requirepass or the ACL user's; best given as SPYDER_FRONTIER_REDIS_PASSWORD)"`
	FrontierRedisOwnershipTTL time.Duration `koanf:"frontier_redis_ownership_ttl" doc:"frontier_store redis: a master's partitions lapse this long after its last renewal (it renews every sixth of it), and another master takes them over (seconds)"`
	MasterAdvertiseHost       string        `koanf:"master_advertise_host" doc:"frontier_store redis: the host name or address workers on other machines reach this master at, put in the masters' directory for its endpoints bound to * or 0.0.0.0 (empty: this machine's host name)"`
	WorkerMasters             []string      `koanf:"worker_masters" doc:"workers: management endpoints (zeromq_mgmt_master) of further masters of a shared crawl, where the worker learns the masters' directory if its own master is down (the directory names the others anyway)"`
	PrioritizerCrawlDelta     time.Duration `koanf:"prioritizer_crawl_delta" doc:"revisit interval per level: a page is fetched again delta x level after a fetch, each 304 raising its level (seconds; 0 = no revisits)"`
	PrioritizerNumPriorities  int           `koanf:"prioritizer_num_priorities" doc:"highest revisit level"`
	MasterInflightPerWorker   int           `koanf:"master_inflight_per_worker" doc:"URLs in flight per live worker (dispatch credit)"`
	MasterLeaseTimeout        time.Duration `koanf:"master_lease_timeout" doc:"a dispatched URL without a result after this long is queued again (seconds)"`
	MasterShutdownGrace       time.Duration `koanf:"master_shutdown_grace" doc:"on shutdown, how long the master waits for quit.ack and in-flight results (seconds)"`
	MasterProgressInterval    time.Duration `koanf:"master_progress_interval" doc:"interval of the progress line on stderr (seconds; 0 = off)"`
	WorkerShutdownGrace       time.Duration `koanf:"worker_shutdown_grace" doc:"on shutdown, how long a worker lets running fetches finish (seconds)"`
	HeartbeatInterval         time.Duration `koanf:"heartbeat_interval" doc:"interval of announcements and heartbeats on the management bus (seconds)"`
	MetricsListen             string        `koanf:"metrics_listen" doc:"host:port where master and worker serve Prometheus /metrics (empty: off; port 0 picks a free port, logged at start; under spyder node the master takes the port P and worker i P+i; a taken port exits 2)"`
	DashboardActions          bool          `koanf:"dashboard_actions" doc:"the dashboard at / of metrics_listen offers pause, resume, stop and host changes, to requests with the token the master prints at start (false: it only shows)"`
	HeartbeatLiveness         int           `koanf:"heartbeat_liveness" doc:"missed heartbeats after which a peer is considered gone"`

	// ZeroMQ endpoints. The master binds, workers connect.
	ZeromqMasterPush                string `koanf:"zeromq_master_push" doc:"master PUSH bind: URLs to workers"`
	ZeromqMasterPushHWM             int    `koanf:"zeromq_master_push_hwm" doc:"send high-water mark of the master PUSH socket, per worker"`
	ZeromqMasterSub                 string `koanf:"zeromq_master_sub" doc:"master SUB bind: results from workers"`
	ZeromqWorkerProcFetcherPull     string `koanf:"zeromq_worker_proc_fetcher_pull" doc:"worker PULL connect (defaults to zeromq_master_push)"`
	ZeromqWorkerProcExtractorPub    string `koanf:"zeromq_worker_proc_extractor_pub" doc:"worker result PUB connect (defaults to zeromq_master_sub)"`
	ZeromqWorkerProcExtractorPubHWM int    `koanf:"zeromq_worker_proc_extractor_pub_hwm" doc:"send high-water mark of the worker result PUB socket"`
	ZeromqMgmtMaster                string `koanf:"zeromq_mgmt_master" doc:"management PUB of the master (master binds, workers connect)"`
	ZeromqLogging                   string `koanf:"zeromq_logging" doc:"logsink address: spyder logsink binds it, masters and workers send their log records there as well (empty: local logging only)"`
	ZeromqMgmtWorker                string `koanf:"zeromq_mgmt_worker" doc:"management SUB of the master (master binds, workers connect)"`

	// CURVE authentication. Keys are key files from spyder keygen or Z85
	// keys themselves (secret ones best kept in the environment).
	CurveServerSecretKey string `koanf:"curve_server_secret_key" path:"key" secret:"true" doc:"master: its CURVE secret key (the NAME_secret file of spyder keygen, mode 0600, or the key); set, its four sockets accept only CURVE clients listed in curve_allowed_workers (empty: no authentication; keep the addresses on loopback)"`
	CurveAllowedWorkers  string `koanf:"curve_allowed_workers" path:"file" doc:"master: file of the public keys it accepts (workers and operators), one per line with an optional name after it, or appended public key files; re-read when it changes"`
	CurveServerPublicKey string `koanf:"curve_server_public_key" path:"key" doc:"workers and operator commands: the master's CURVE public key (its key file or the key); set, they connect with CURVE"`
	CurveSecretKey       string `koanf:"curve_secret_key" path:"key" secret:"true" doc:"workers and operator commands: their own CURVE secret key (a NAME_secret file of spyder keygen, mode 0600, or the key); its public key must be in the master's curve_allowed_workers"`

	// Your own components.
	Extra []string `koanf:"extra" doc:"settings of your own processors, sinks and callbacks (a binary built with spyder.Main), as name=value: extra: [title_csv=titles.csv]; read with Settings.ExtraValue"`

	derivedFrom map[string]string // derived setting -> the setting it was copied from
}

// ExtraValue returns the value of the extra setting name (extra:
// [name=value]), and whether it is set; of two with one name, the later
// counts. (Like every list setting, --extra or SPYDER_EXTRA replaces the
// config file's whole list.)
func (s *Settings) ExtraValue(name string) (string, bool) {
	for i := len(s.Extra) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(s.Extra[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// DerivedFrom names the setting that key was copied from because key was not
// set, or "" when key was set explicitly (or is not a derived setting).
func (s *Settings) DerivedFrom(key string) string { return s.derivedFrom[key] }

// Defaults returns the built-in settings. Derived settings (connect_timeout,
// zeromq_worker_proc_fetcher_pull, zeromq_worker_proc_extractor_pub) are left
// empty here and filled by Load from the settings they follow.
func Defaults() Settings {
	return Settings{
		LogLevelMaster: "info",
		LogLevelWorker: "info",
		LogFormat:      "auto",

		UserAgent:             "Mozilla/5.0 (compatible; spyder/0.2; +https://github.com/spyder-crawl/spyder)",
		DefaultRequestHeaders: []string{"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Accept-Language: en"},
		ProxyBackoff:          30 * time.Second,
		Cookies:               true,
		MaxClients:            10,
		RequestTimeout:        20 * time.Second,
		FollowRedirects:       false,
		MaxRedirects:          3,
		ValidateCertificates:  true,
		MaxContentLength:      10 << 20,

		SpyderExtractorPipeline:  []string{"limiter", "html_link_extractor", "http_extractor"},
		SpyderScoperPipeline:     []string{"regex_scoper", "strip_session_ids", "strip_query_params", "cleanup_query_string"},
		RegexScopePositive:       []string{},
		RegexScopeNegative:       []string{},
		HTTPExtractor404Redirect: []string{},
		HTMLLinkExtractorTags:    []string{"a"},
		RemoveQueryNames:         []string{},
		URLCanonicalization:      []string{"resolve_dot_segments", "normalize_percent_encoding", "remove_fragment"},

		MasterCallback:            "seedfile",
		MasterSinks:               []string{"jsonl", "csv", "warc", "crawl_log"},
		Extra:                     []string{},
		WARCPrefix:                "spyder-",
		WARCWriter:                WARCByWorkers,
		WARCDedup:                 DedupSameURL,
		WARCMaxFileSize:           1 << 30,
		WARCGzipLevel:             warcfile.DefaultGzipLevel,
		MaxURLLength:              2048,
		MaxDepth:                  100,
		MaxURLsPerHost:            1000000,
		MaxLinksPerPage:           10000,
		SitemapMaxURLs:            50000,
		SitemapMaxSize:            50 << 20,
		ObeyRobotsTxt:             true,
		RobotsUserAgent:           "spyder",
		RobotsTxtTTL:              24 * time.Hour,
		RobotsMaxCrawlDelay:       30 * time.Second,
		FrontierClass:             "multiple_host",
		StateDir:                  "spyder-state",
		FrontierMinDelay:          5 * time.Second,
		FrontierCrawlDelayFactor:  4,
		FrontierMaxRetries:        3,
		FrontierRetryBackoff:      30 * time.Second,
		FrontierMaxRetryAfter:     time.Hour,
		FrontierActiveQueues:      100,
		FrontierQueueBudget:       50,
		FrontierQueueBudgetPunish: 5,
		QueueSelectorClass:        "biased",
		QueueAssignmentClass:      "host_based",
		FrontierStore:             "pebble",
		FrontierRedisCrawl:        "spyder",
		FrontierRedisPartitions:   256,
		FrontierRedisSeenBuckets:  64,
		FrontierRedisWaitReplicas: -1,
		FrontierRedisOwnershipTTL: 6 * time.Second,
		StaticDNSMappings:         []string{},
		SizeDNSCache:              1000,
		FrontierCacheSize:         64 << 20,
		PrioritizerCrawlDelta:     24 * time.Hour,
		PrioritizerNumPriorities:  10,
		MasterInflightPerWorker:   20,
		MasterLeaseTimeout:        90 * time.Second,
		MasterShutdownGrace:       10 * time.Second,
		MasterProgressInterval:    5 * time.Second,
		WorkerShutdownGrace:       5 * time.Second,
		HeartbeatInterval:         time.Second,
		HeartbeatLiveness:         3,

		ZeromqMasterPush:                "tcp://127.0.0.1:5550",
		ZeromqMasterPushHWM:             10,
		ZeromqMasterSub:                 "tcp://127.0.0.1:5551",
		ZeromqWorkerProcExtractorPubHWM: 10000,
		ZeromqMgmtMaster:                "tcp://127.0.0.1:5552",
		ZeromqMgmtWorker:                "tcp://127.0.0.1:5553",
	}
}

// derived lists the settings that follow another setting unless set
// explicitly, as key -> source key.
var derived = map[string]string{
	"connect_timeout":                  "request_timeout",
	"zeromq_worker_proc_fetcher_pull":  "zeromq_master_push",
	"zeromq_worker_proc_extractor_pub": "zeromq_master_sub",
}

// The values of warc_writer.
const (
	WARCByWorkers = "worker" // each worker its own fetches, before it reports them
	WARCByMaster  = "master" // the master, from the bodies the results carry
)

// The values of warc_dedup.
const (
	DedupSameURL = "url" // a payload the URL was last archived with
	DedupAnyURL  = "any" // a payload archived for any URL
	DedupOff     = "off"
)

// WARCWrittenBy is who writes the WARC records of output_warc_dir,
// WARCByWorkers or WARCByMaster, or "" when there is no WARC output: the
// one place that decides, for the master's sink and for the directory it
// hands its workers.
func (s *Settings) WARCWrittenBy() string {
	if s.OutputWARCDir == "" {
		return ""
	}
	return s.WARCWriter
}

// HeartbeatTimeout is how long a peer may stay silent before it is gone.
func (s *Settings) HeartbeatTimeout() time.Duration {
	return s.HeartbeatInterval * time.Duration(s.HeartbeatLiveness)
}
