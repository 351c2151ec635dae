// e2e_curve_test.go: CURVE end to end: strangers refused, settings and exposure, a key revoked mid-crawl.

package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/internal/curve"
	"github.com/spyder-crawl/spyder/internal/events"
	"github.com/spyder-crawl/spyder/mgmt"
)

// keygen runs `spyder keygen` and returns the public key it wrote.
func keygen(t *testing.T, base string) string {
	t.Helper()
	out, err := exec.Command(spyderBin, "keygen", base).CombinedOutput()
	if err != nil {
		t.Fatalf("spyder keygen %s: %v\n%s", base, err, out)
	}
	pub, err := curve.PublicKey("test", base)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), pub) {
		t.Fatalf("keygen did not print the public key: %s", out)
	}
	return pub
}

// TestCurveRefusesStrangers: a master with CURVE keys and an allowed-workers
// file crawls with an allowed worker; a worker with an unknown key and a
// worker without keys get nothing (no URL, no registration), and the master
// logs each refusal (the ZAP refusal with the peer's address and key). The
// stranger's key appended to the file mid-crawl lets it in without a
// restart; the operator commands use keys of their own.
func TestCurveRefusesStrangers(t *testing.T) {
	site := startSite(t, 30, 40*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	keygen(t, dir+"/master")
	keygen(t, dir+"/good")
	keygen(t, dir+"/operator")
	strangerKey := keygen(t, dir+"/stranger")
	goodCert, _ := os.ReadFile(dir + "/good")
	operatorCert, _ := os.ReadFile(dir + "/operator")
	allowed := writeFile(t, dir, "allowed_workers", string(goodCert)+string(operatorCert))

	c := newCluster(t,
		"SPYDER_CURVE_SERVER_SECRET_KEY="+dir+"/master_secret", "SPYDER_CURVE_ALLOWED_WORKERS="+allowed,
		// Operator commands (ctl) connect with the operator's key.
		"SPYDER_CURVE_SERVER_PUBLIC_KEY="+dir+"/master", "SPYDER_CURVE_SECRET_KEY="+dir+"/operator_secret",
		"SPYDER_MAX_CLIENTS=2")
	workerEnv := func(secret string) []string {
		return append(slices.Clone(c.Env), "SPYDER_CURVE_SECRET_KEY="+secret)
	}
	noKeys := append(slices.Clone(c.Env), "SPYDER_CURVE_SERVER_PUBLIC_KEY=", "SPYDER_CURVE_SECRET_KEY=")

	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	m.WaitFor(t, "master ready", 20*time.Second, event(events.MasterReady))
	if len(m.Find(event("curve"))) != 1 {
		t.Fatal("the master did not say it requires CURVE")
	}
	good := start(t, "good", workerEnv(dir+"/good_secret"), "worker")
	stranger := start(t, "stranger", workerEnv(dir+"/stranger_secret"), "worker")
	nokey := start(t, "nokey", noKeys, "worker")

	m.WaitFor(t, "the unknown key refused, with its address", 20*time.Second, func(r map[string]any) bool {
		return r["event"] == "curve_refused" && r["key"] == strangerKey && r["peer"] == "127.0.0.1"
	})
	// A handshake that fails before ZAP is asked has its peer read from the
	// accepted connection, which may be closed by then; the worker tries
	// again (three sockets, every 10 s), so one attempt is caught.
	m.WaitFor(t, "the worker without keys refused, with its address", 35*time.Second, func(r map[string]any) bool {
		reason, _ := r["reason"].(string)
		peer, _ := r["peer"].(string)
		return r["event"] == "curve_refused" && strings.Contains(reason, "without CURVE keys") && strings.HasPrefix(peer, "127.0.0.1:")
	})
	resumeWith(t, c, 1) // the good worker only
	// An operator command without keys gets no answer, and is told why.
	status := exec.Command(spyderBin, "status", "--timeout", "500ms")
	status.Env = noKeys
	if out, err := status.CombinedOutput(); err == nil || !strings.Contains(string(out), "curve_server_public_key") {
		t.Errorf("status without keys against a CURVE master: %v\n%s", err, out)
	}
	m.WaitFor(t, "the crawl under way", 30*time.Second, func(r map[string]any) bool {
		done, _ := r["done"].(float64)
		return r["event"] == "progress" && done >= 5
	})

	// Enroll the stranger: appended to the file, no restart. (Paused
	// meanwhile, so that the crawl is not over before the stranger's next
	// reconnect, up to 10 s later.)
	if out := ctl(t, c, "pause"); !strings.Contains(out, "dispatch paused") {
		t.Fatalf("pause: %s", out)
	}
	enrolled := time.Now()
	f, err := os.OpenFile(allowed, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strangerKey + " stranger, enrolled\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st := waitStatus(t, c, "the enrolled worker registered", 30*time.Second, func(s mgmt.Status) bool { return len(s.Workers) == 2 })
	if st.Drops["curve_refused"] < 2 {
		t.Fatalf("status counts %d refused handshakes, want at least the two strangers'", st.Drops["curve_refused"])
	}
	if out := ctl(t, c, "resume"); !strings.Contains(out, "dispatch resumed") {
		t.Fatalf("resume: %s", out)
	}

	waitClean(t, m, good, stranger)
	checkCrawl(t, site, out)

	// Nothing reached the strangers while they were strangers.
	for _, r := range stranger.Find(func(r map[string]any) bool { return r["message"] == "fetched" }) {
		at, err := time.Parse(time.RFC3339Nano, r["time"].(string))
		if err != nil || at.Before(enrolled) {
			t.Fatalf("the stranger fetched %v at %v, before its key was enrolled at %v", r["url"], r["time"], enrolled)
		}
	}
	if n := len(nokey.Find(func(r map[string]any) bool { return r["message"] == "fetched" })); n != 0 {
		t.Fatalf("the worker without keys fetched %d URLs", n)
	}
	if len(nokey.Find(func(r map[string]any) bool { return r["event"] == "unregistered" })) == 0 {
		t.Fatal("the worker without keys did not say that no master acknowledged it")
	}
	nokey.Signal(syscall.SIGTERM)
	if code := nokey.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("worker without keys: exit code %d after SIGTERM", code)
	}
}

// TestCurveSettingsAndExposure: bad CURVE settings exit 2 with a message
// naming the setting; without CURVE the master says its sockets are on
// loopback, or warns when they are not.
func TestCurveSettingsAndExposure(t *testing.T) {
	dir := t.TempDir()
	keygen(t, dir+"/master")
	keygen(t, dir+"/w")
	secret, _ := os.ReadFile(dir + "/w_secret")
	loose := writeFile(t, dir, "loose_secret", string(secret)) // mode 0644
	allowed := writeFile(t, dir, "allowed", "not a key\n")
	private := func(path string) string { // a copy that only its owner reads
		data, _ := os.ReadFile(path)
		if err := os.WriteFile(path+".0600", data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path + ".0600"
	}
	// The masters below have no seeds: with --until-done they stop at once.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"secret without allowed file", []string{"master", "--curve-server-secret-key", dir + "/master_secret"}, "curve_allowed_workers"},
		{"bad allowed file", []string{"master", "--curve-server-secret-key", dir + "/master_secret", "--curve-allowed-workers", allowed}, allowed + ":1"},
		{"secret readable by others", []string{"master", "--curve-server-secret-key", loose, "--curve-allowed-workers", dir + "/w"}, "chmod 600"},
		{"worker with half the keys", []string{"worker", "--curve-secret-key", dir + "/w_secret"}, "curve_server_public_key and curve_secret_key go together"},
		{"worker with a public key for a secret", []string{"worker", "--curve-server-public-key", dir + "/master", "--curve-secret-key", private(dir + "/w")}, "holds no secret-key"},
		{"operator with a bad server key", []string{"status", "--curve-server-public-key", "nope", "--curve-secret-key", dir + "/w_secret"}, "curve_server_public_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] == "master" {
				args = slices.Concat(args, []string{"--state-dir", t.TempDir()})
			}
			outb, err := exec.Command(spyderBin, args...).CombinedOutput()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != 2 || !strings.Contains(string(outb), tc.want) {
				t.Fatalf("exit code %d, want 2 with %q:\n%s", code, tc.want, outb)
			}
			if strings.Contains(string(outb), strings.TrimSpace(string(secret))) {
				t.Fatal("a secret key was printed")
			}
		})
	}

	// Loopback (the defaults' kind of address): said so, at info.
	c := newCluster(t)
	m := start(t, "master", c.Env, "master", "--until-done")
	if code := m.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	if r := m.Find(event("no_curve")); len(r) != 1 || r[0]["level"] != "info" {
		t.Fatalf("loopback without CURVE: %v", r)
	}
	// All interfaces without CURVE: a warning naming the addresses.
	exposedEnv := slices.Clone(c.Env)
	for i, kv := range exposedEnv {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "SPYDER_ZEROMQ_M") {
			exposedEnv[i] = k + "=" + strings.Replace(v, "tcp://127.0.0.1:", "tcp://*:", 1)
		}
	}
	m = start(t, "exposed", exposedEnv, "master", "--until-done")
	if code := m.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("master exit code %d", code)
	}
	r := m.Find(event("no_curve"))
	if len(r) != 1 || r[0]["level"] != "warn" || !strings.Contains(r[0]["message"].(string), "curve_server_secret_key") {
		t.Fatalf("all interfaces without CURVE: %v", r)
	}
	if exposed, _ := r[0]["exposed"].([]any); len(exposed) != 4 {
		t.Fatalf("the warning names %v, want the four addresses", r[0]["exposed"])
	}
}

// TestCurveRevocationCutsOff: a worker's key is removed from
// curve_allowed_workers mid-crawl. From that moment nothing it sends is
// applied (every result the output credits to it was fetched before), its
// URLs go back to the queue, and its sessions are closed on every socket,
// so it fetches nothing more; the other worker finishes the crawl. (Before,
// the revoked worker kept its connections and fetched four more pages.)
func TestCurveRevocationCutsOff(t *testing.T) {
	site := startSite(t, 60, 100*time.Millisecond)
	dir := t.TempDir()
	seeds := writeFile(t, dir, "seeds.txt", strings.Join(site.Seeds(), "\n"))
	out := dir + "/out.jsonl"
	keygen(t, dir+"/master")
	keygen(t, dir+"/good")
	keygen(t, dir+"/operator")
	keygen(t, dir+"/revoked")
	cert := func(name string) string {
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	allowed := writeFile(t, dir, "allowed_workers", cert("good")+cert("operator")+cert("revoked"))
	c := newCluster(t,
		"SPYDER_CURVE_SERVER_SECRET_KEY="+dir+"/master_secret", "SPYDER_CURVE_ALLOWED_WORKERS="+allowed,
		"SPYDER_CURVE_SERVER_PUBLIC_KEY="+dir+"/master", "SPYDER_CURVE_SECRET_KEY="+dir+"/operator_secret",
		"SPYDER_MAX_CLIENTS=2", "SPYDER_MASTER_LEASE_TIMEOUT=60", "SPYDER_LOG_LEVEL_WORKER=debug")
	m := start(t, "master", c.Env, "master", "--until-done", "--paused", "--seeds", seeds, "--out", out)
	good := start(t, "good", append(slices.Clone(c.Env), "SPYDER_CURVE_SECRET_KEY="+dir+"/good_secret"), "worker")
	revoked := start(t, "revoked", append(slices.Clone(c.Env), "SPYDER_CURVE_SECRET_KEY="+dir+"/revoked_secret", "SPYDER_USER_AGENT=revoked-worker"), "worker")
	resumeWith(t, c, 2)
	revokedID := revoked.WaitFor(t, "READY", 20*time.Second, event(events.WorkerReady))["id"].(string)
	revoked.WaitFor(t, "the revoked worker fetching", 30*time.Second, func(r map[string]any) bool { return r["message"] == "fetched" })

	// Revoke: the file replaced without the key, as an editor saves it.
	revokedAt := time.Now()
	writeFile(t, dir, "allowed_workers.new", cert("good")+cert("operator"))
	if err := os.Rename(dir+"/allowed_workers.new", allowed); err != nil {
		t.Fatal(err)
	}
	cut := m.WaitFor(t, "the worker cut off", 10*time.Second, func(r map[string]any) bool {
		return r["event"] == "curve_revoked" && r["worker"] == revokedID
	})
	waitClean(t, m, good)
	revoked.Signal(syscall.SIGTERM)
	revoked.Wait(t, 20*time.Second)

	// Everything was fetched; what the revoked worker held may have been
	// fetched twice: at most the credit of both workers (2 x 20).
	checkNothingLost(t, site, out, 40)
	// Nothing the revoked worker sent after the revocation was applied:
	// each result credited to it was fetched before.
	fetchedAt := map[string]time.Time{}
	for _, r := range revoked.Find(func(r map[string]any) bool { return r["message"] == "fetched" }) {
		at, err := time.Parse(time.RFC3339Nano, r["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		fetchedAt[r["url"].(string)] = at
	}
	credited := 0
	for _, rec := range readJSONL(t, out) {
		if rec["worker"] != revokedID {
			continue
		}
		credited++
		if at, ok := fetchedAt[rec["url"].(string)]; !ok || !at.Before(revokedAt) {
			t.Errorf("a result of the revoked worker was applied: %v fetched at %v, revoked at %v", rec["url"], at, revokedAt)
		}
	}
	// And it got nothing more: no request of its after its connections
	// were closed (what it was fetching then may finish).
	late := 0
	for _, r := range site.Log() {
		if r.UA == "revoked-worker" && r.At.After(revokedAt.Add(2*time.Second)) {
			late++
		}
	}
	if late > 0 {
		t.Errorf("the revoked worker made %d requests more than 2 s after its key was revoked", late)
	}
	t.Logf("revoked worker: %d results applied before the revocation, %v URLs released", credited, cut["released"])
}
