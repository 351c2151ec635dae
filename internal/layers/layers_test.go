// Package layers holds one test: the package graph of spyder points down,
// from the commands to the crawl's parts to the wire and URL packages,
// never back. The table below is the allowed graph; a new import between
// spyder's packages has to be added to it on purpose.
package layers

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/spyder-crawl/spyder/"

// allowed lists, for each package, the spyder packages it may import (in
// its non-test files). "internal/*" stands for any internal package.
var allowed = map[string][]string{
	// Leaves: the wire types and the URL logic import nothing of spyder,
	// so that a worker in another program, a processor or a user's own
	// code gets them without the frontier's store.
	"crawluri": {},
	"urlx":     {},
	// The management bus speaks about identities of the wire package; its
	// control client uses the socket and CURVE helpers.
	"mgmt": {"crawluri", "internal/*"},
	// Settings know names and values, nothing of the components; they
	// validate a value with the leaf library that defines it (static DNS
	// mappings, the WARC gzip level), so each rule lives in one place.
	"settings": {"internal/dnscache", "internal/warcfile"},
	// The frontier keeps state; it knows URLs and results, not the master,
	// the worker or the bus.
	"frontier": {"crawluri", "urlx", "internal/*"},
	// A second store: the frontier's Store in Redis, under its policy.
	"frontier/redisstore": {"crawluri", "urlx", "frontier", "internal/*"},
	// Checks every store passes, for its tests (a user's own store's
	// too): the frontier's interfaces only, never a store.
	"frontier/frontiertest": {"crawluri", "urlx", "frontier"},
	// Processors work on a result with URL logic; never on the store.
	"worker/processor": {"crawluri", "urlx", "settings", "internal/*"},
	// The worker: fetch, processors, the bus. Never the frontier or the
	// master.
	"worker": {"crawluri", "urlx", "mgmt", "settings", "worker/processor", "internal/*"},
	// The master: frontier, bus, settings. Never the worker or its
	// processors.
	"master": {"crawluri", "urlx", "mgmt", "settings", "frontier", "frontier/redisstore", "internal/*"},
	// The command line puts everything together; the root package (Main)
	// and the binary are only its doors.
	"internal/cli": {"*"},
	// The test harness starts masters and workers in the test's process.
	"internal/spydertest": {"*"},
	"":                    {"internal/cli"},
	"cmd/spyder":          {""},
	"cmd/demosite":        {},
}

func TestPackageGraphPointsDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), strings.TrimSuffix(module, "/")) // the root is ""
		rules, listed := allowed[pkg]
		if !listed && strings.HasPrefix(pkg, "internal/") {
			// Internal helpers may use each other and the leaves, not the
			// components above them.
			rules, listed = []string{"internal/*", "crawluri", "urlx"}, true
		}
		if !listed {
			t.Errorf("package %s is not in the allowed graph: add it to the table", pkg)
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, module)
			if imp == strings.TrimSuffix(module, "/") {
				dep, ok = "", true
			}
			if !ok {
				continue // not spyder's
			}
			if !permitted(rules, dep) {
				t.Errorf("%s imports %s, which the graph does not allow (allowed: %v)", pkg, dep, rules)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages listed: %s", seen, out)
	}
}

func permitted(rules []string, dep string) bool {
	return slices.ContainsFunc(rules, func(r string) bool {
		return r == "*" || r == dep || r == "internal/*" && strings.HasPrefix(dep, "internal/")
	})
}
