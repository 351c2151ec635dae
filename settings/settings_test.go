// settings_test.go: settings: defaults, layers, forms, invalid values, YAML.

package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spyder.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsLoadAndValidate(t *testing.T) {
	s, err := Load(Source{})
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxClients != 10 || s.RequestTimeout != 20*time.Second || s.FrontierClass != "multiple_host" {
		t.Fatalf("defaults: %+v", s)
	}
	if s.ConnectTimeout != s.RequestTimeout {
		t.Fatalf("connect_timeout %v does not follow request_timeout", s.ConnectTimeout)
	}
	if s.ZeromqWorkerProcFetcherPull != s.ZeromqMasterPush || s.ZeromqWorkerProcExtractorPub != s.ZeromqMasterSub {
		t.Fatal("derived addresses do not follow the master's")
	}
}

func TestLayering(t *testing.T) {
	file := writeConfig(t, "max_clients: 3\nuser_agent: from-file\nrequest_timeout: 7\nregex_scope_positive: ['^http://a/']\n")
	env := []string{"SPYDER_USER_AGENT=from-env", "SPYDER_REQUEST_TIMEOUT=500ms", "PATH=/bin", "SPYDERX=ignored"}
	flags := map[string]any{"request_timeout": "9"}
	s, err := Load(Source{ConfigFile: file, Environ: env, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxClients != 3 {
		t.Errorf("file did not override the default: %d", s.MaxClients)
	}
	if s.UserAgent != "from-env" {
		t.Errorf("env did not override the file: %q", s.UserAgent)
	}
	if s.RequestTimeout != 9*time.Second {
		t.Errorf("flag did not override env: %v", s.RequestTimeout)
	}
	if len(s.RegexScopePositive) != 1 || s.RegexScopePositive[0] != "^http://a/" {
		t.Errorf("list from file: %q", s.RegexScopePositive)
	}
}

// TestDerivedAddressesFollowTheirSource is spyder's multi-node bug: setting
// only the master's address must move the worker's address with it.
func TestDerivedAddressesFollowTheirSource(t *testing.T) {
	s, err := Load(Source{Environ: []string{"SPYDER_ZEROMQ_MASTER_PUSH=tcp://10.1.2.3:6000", "SPYDER_ZEROMQ_MASTER_SUB=tcp://10.1.2.3:6001"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.ZeromqWorkerProcFetcherPull != "tcp://10.1.2.3:6000" || s.ZeromqWorkerProcExtractorPub != "tcp://10.1.2.3:6001" {
		t.Fatalf("derived: %q %q", s.ZeromqWorkerProcFetcherPull, s.ZeromqWorkerProcExtractorPub)
	}
	if s.DerivedFrom("zeromq_worker_proc_fetcher_pull") != "zeromq_master_push" {
		t.Fatal("DerivedFrom")
	}
	s, err = Load(Source{Flags: map[string]any{"zeromq_master_push": "tcp://*:6000", "zeromq_worker_proc_fetcher_pull": "tcp://master:6000"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.ZeromqWorkerProcFetcherPull != "tcp://master:6000" || s.DerivedFrom("zeromq_worker_proc_fetcher_pull") != "" {
		t.Fatal("an explicit worker address must win")
	}
	if err := CheckConnectable("zeromq_worker_proc_fetcher_pull", "tcp://*:6000", "zeromq_master_push"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wildcard connect: %v", err)
	}
}

func TestValueForms(t *testing.T) {
	s, err := Load(Source{Environ: []string{
		"SPYDER_REGEX_SCOPE_NEGATIVE=[\"^a,b\", \"^c\"]",
		"SPYDER_REGEX_SCOPE_POSITIVE=^http://one/",
		"SPYDER_FOLLOW_REDIRECTS=true",
		"SPYDER_FRONTIER_MIN_DELAY=1.5",
		"SPYDER_HEARTBEAT_INTERVAL=250ms",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.RegexScopeNegative) != 2 || s.RegexScopeNegative[0] != "^a,b" {
		t.Errorf("JSON list: %q", s.RegexScopeNegative)
	}
	if len(s.RegexScopePositive) != 1 {
		t.Errorf("single value list: %q", s.RegexScopePositive)
	}
	if !s.FollowRedirects || s.FrontierMinDelay != 1500*time.Millisecond || s.HeartbeatInterval != 250*time.Millisecond {
		t.Errorf("values: %v %v %v", s.FollowRedirects, s.FrontierMinDelay, s.HeartbeatInterval)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		name string
		src  Source
		want []string
	}{
		{"unknown file key", Source{ConfigFile: "FILE:max_clientz: 1\n"}, []string{"max_clientz", "unknown setting", "did you mean max_clients"}},
		{"unknown env", Source{Environ: []string{"SPYDER_NOPE=1"}}, []string{"nope", "SPYDER_NOPE"}},
		{"unknown flag key", Source{Flags: map[string]any{"nope": "1"}}, []string{"nope", "unknown setting"}},
		{"bad endpoint", Source{Flags: map[string]any{"zeromq_mgmt_worker": "tcp://host"}}, []string{"zeromq_mgmt_worker", "host:port"}},
		{"bad port", Source{Flags: map[string]any{"zeromq_mgmt_worker": "tcp://host:99999"}}, []string{"zeromq_mgmt_worker", "port"}},
		{"no scheme", Source{Flags: map[string]any{"zeromq_master_sub": "localhost:5"}}, []string{"zeromq_master_sub", "not an endpoint"}},
		{"negative timeout", Source{Flags: map[string]any{"request_timeout": "-1"}}, []string{"request_timeout", "greater than 0"}},
		{"bad duration", Source{Flags: map[string]any{"heartbeat_interval": "soon"}}, []string{"heartbeat_interval", "neither seconds nor a duration"}},
		{"bad int", Source{Flags: map[string]any{"max_clients": "x"}}, []string{"max_clients", "cannot use"}},
		{"bad robots token", Source{Flags: map[string]any{"robots_user_agent": "spyder/0.2"}}, []string{"robots_user_agent", "product token"}},
		{"negative crawl delay cap", Source{Flags: map[string]any{"robots_max_crawl_delay": "-1"}}, []string{"robots_max_crawl_delay", "negative"}},
		{"bad metrics address", Source{Flags: map[string]any{"metrics_listen": "9100"}}, []string{"metrics_listen", "not host:port"}},
		{"bad level", Source{Flags: map[string]any{"log_level_worker": "loud"}}, []string{"log_level_worker", "not a log level"}},
		{"bad json list", Source{Environ: []string{"SPYDER_REGEX_SCOPE_POSITIVE=[1"}}, []string{"regex_scope_positive", "JSON array"}},
		{"retired spyder setting", Source{ConfigFile: "FILE:remove_anchors_from_links: false\n"}, []string{"remove_anchors_from_links", "url_canonicalization", "leave remove_fragment out"}},
		{"extra without a value", Source{Flags: map[string]any{"extra": []string{"title_csv"}}}, []string{"extra", `"title_csv" is not name=value`}},
		{"gzip level too high", Source{Flags: map[string]any{"warc_gzip_level": "11"}}, []string{"warc_gzip_level", "11 is not a gzip level: 1 (fastest) to 9"}},
		{"gzip level zero", Source{Environ: []string{"SPYDER_WARC_GZIP_LEVEL=0"}}, []string{"warc_gzip_level", "0 is not a gzip level"}},
		{"css_extract without its processor", Source{Flags: map[string]any{"css_extract": []string{"title=title"}}}, []string{"css_extract", "no pipeline runs the css_extract processor"}},
		{"css_extract entry", Source{Flags: map[string]any{"css_extract": []string{"title"}, "spyder_extractor_pipeline": []string{"css_extract"}}}, []string{"css_extract", "want name=selector"}},
		{"css_extract name twice", Source{Flags: map[string]any{"css_extract": []string{"t=h1", "t=h2"}, "spyder_extractor_pipeline": []string{"css_extract"}}}, []string{"css_extract", "named twice"}},
		{"sitemap_root without its processor", Source{Flags: map[string]any{"sitemap_root": "true"}}, []string{"sitemap_root", "no pipeline runs the sitemap processor"}},
		{"sitemap_max_urls zero", Source{Flags: map[string]any{"sitemap_max_urls": "0"}}, []string{"sitemap_max_urls", "at least 1"}},
		{"warc_dedup any by workers", Source{Flags: map[string]any{"warc_dedup": "any"}}, []string{"warc_dedup", "any needs warc_writer: master"}},
		{"warc_dedup value", Source{Flags: map[string]any{"warc_dedup": "yes"}}, []string{"warc_dedup", `"yes": url (the same URL's last payload)`}},
		{"bad output field", Source{Flags: map[string]any{"output_fields": []string{"a b"}}}, []string{"output_fields", `"a b" must be letters`}},
		{"several at once", Source{Flags: map[string]any{"max_clients": "0", "heartbeat_liveness": "0"}}, []string{"max_clients", "heartbeat_liveness"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.src.ConfigFile, "FILE:") {
				tc.src.ConfigFile = writeConfig(t, strings.TrimPrefix(tc.src.ConfigFile, "FILE:"))
			}
			_, err := Load(tc.src)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestYAMLReadsBack(t *testing.T) {
	s, err := Load(Source{Flags: map[string]any{"user_agent": "a: b # c", "regex_scope_positive": []string{"^x'y", `^"z`}, "frontier_min_delay": "0.25"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(Source{ConfigFile: writeConfig(t, string(s.YAML()))})
	if err != nil {
		t.Fatalf("printed settings do not load: %v\n%s", err, s.YAML())
	}
	if again.UserAgent != s.UserAgent || again.FrontierMinDelay != s.FrontierMinDelay || len(again.RegexScopePositive) != 2 || again.RegexScopePositive[1] != `^"z` {
		t.Fatalf("round trip differs:\n%+v\n%+v", s, again)
	}
}

// TestConfigFilePathsAreRelativeToTheFile: relative paths in a config file
// name files next to it (as docker-compose resolves its paths), so the
// crawl works from any directory; absolute paths, inline keys and paths
// given in the environment or as flags are left as they are.
func TestConfigFilePathsAreRelativeToTheFile(t *testing.T) {
	const inlineKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" // a Z85 key, not a file
	cfg := writeConfig(t, "state_dir: state\nseeds_file: seeds.txt\noutput_jsonl: out/pages.jsonl\noutput_warc_dir: warc\n"+
		"curve_server_public_key: master\ncurve_secret_key: '"+inlineKey+"'\n")
	dir := filepath.Dir(cfg)
	if err := os.WriteFile(filepath.Join(dir, "master"), []byte("a key file"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(Source{ConfigFile: cfg, Environ: []string{"SPYDER_OUTPUT_WARC_DIR=here/warc"}, Flags: map[string]any{"seeds_file": "/abs/seeds.txt"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"state_dir", s.StateDir, filepath.Join(dir, "state")},
		{"seeds_file (flag)", s.SeedsFile, "/abs/seeds.txt"},
		{"output_jsonl", s.OutputJSONL, filepath.Join(dir, "out/pages.jsonl")},
		{"output_warc_dir (environment)", s.OutputWARCDir, "here/warc"},
		{"curve_server_public_key", s.CurveServerPublicKey, filepath.Join(dir, "master")},
		{"curve_secret_key", s.CurveSecretKey, inlineKey},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestExtraValue(t *testing.T) {
	s, err := Load(Source{
		ConfigFile: writeConfig(t, "extra: [title_csv=a.csv, empty=, title_csv=b.csv, eq=x=y]\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"title_csv", "b.csv", true}, // the later one counts
		{"empty", "", true},
		{"eq", "x=y", true},
		{"missing", "", false},
	} {
		if got, ok := s.ExtraValue(tc.name); got != tc.want || ok != tc.ok {
			t.Errorf("ExtraValue(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestWARCWrittenBy: who writes the WARC records follows warc_writer, and
// nobody does without output_warc_dir.
func TestWARCWrittenBy(t *testing.T) {
	for _, tc := range []struct {
		flags map[string]any
		want  string
	}{
		{map[string]any{}, ""},
		{map[string]any{"warc_writer": "master"}, ""},
		{map[string]any{"output_warc_dir": "w"}, WARCByWorkers},
		{map[string]any{"output_warc_dir": "w", "warc_writer": "master"}, WARCByMaster},
		{map[string]any{"output_warc_dir": "w", "warc_writer": "worker"}, WARCByWorkers},
	} {
		s, err := Load(Source{Flags: tc.flags})
		if err != nil {
			t.Fatalf("%v: %v", tc.flags, err)
		}
		if got := s.WARCWrittenBy(); got != tc.want {
			t.Errorf("%v: written by %q, want %q", tc.flags, got, tc.want)
		}
	}
}
