#!/usr/bin/env bash
# Sets up spyder on a fresh Debian machine and runs a real crawl: the demo
# site (cmd/demosite) served on 127.0.0.1:8080, one master and two workers
# over ZeroMQ on loopback, every page written to demo-out/pages.jsonl.
#
# Needs Go (https://go.dev/dl/, the version in go.mod) on PATH; installs
# the C library and build tools it needs with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# 1. Prerequisites: libzmq (cgo), pkg-config, a C compiler; python3-zmq and
# python3-thrift for the tests that check the protocol against Python peers;
# redis-server for the tests of the Redis Cluster frontier (they start their
# own servers on ports of their own); Node.js for the WARC read-back tests;
# chromium for the dashboard's browser test.
missing=()
for pkg in libzmq3-dev pkg-config gcc python3-zmq python3-thrift redis-server chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
# Node.js and warcio.js: the WARC tests read spyder's files back with
# webrecorder's reader (internal/testsite/warcio).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "installing nodejs npm"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq nodejs npm
fi
(cd internal/testsite/warcio && npm ci --no-audit --no-fund --loglevel=error) || log "npm ci in internal/testsite/warcio failed: the WARC tests will say so"
if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "spyder demo: Go is not installed; get the version named in go.mod from https://go.dev/dl/" >&2; exit 1; }

# 2. Build.
log "building bin/spyder and bin/demosite"
mkdir -p bin demo-out
go build -o bin/spyder ./cmd/spyder
go build -o bin/demosite ./cmd/demosite

# 3. Serve the demo site and crawl it.
out=demo-out
# A fresh crawl each time: the master resumes whatever its state directory
# holds, so the previous demo's state goes.
rm -rf "$out"/pages.jsonl "$out"/*.log "$out"/state
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

site=127.0.0.1:8080
log "serving the demo site on http://$site/ (requests logged to $out/site.log)"
bin/demosite -listen "$site" 2>"$out/site.log" &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break
  sleep 0.1
done
echo "http://$site/" > "$out/seeds.txt"

# Console logs on the terminal, JSON in the files. A 0.2 s politeness delay
# keeps the demo quick; the default (frontier_min_delay) is 5 s.
export SPYDER_FRONTIER_MIN_DELAY=0.2
export SPYDER_STATE_DIR="$out/state"
log "starting two workers (logs in $out/worker-1.log, $out/worker-2.log)"
for i in 1 2; do
  bin/spyder worker 2>"$out/worker-$i.log" &
  pids+=($!)
done
# The crawl dashboard (and Prometheus /metrics) on port 9100, or on a free
# port when 9100 is taken. DEMO_DASHBOARD=1 keeps the master running after
# the crawl (until Ctrl-C), to look at the dashboard at leisure.
dash=127.0.0.1:9100
(exec 3<>/dev/tcp/127.0.0.1/9100) 2>/dev/null && dash=127.0.0.1:0
export SPYDER_METRICS_LISTEN=$dash
until_done=(--until-done)
if [ "${DEMO_DASHBOARD:-}" = 1 ]; then
  until_done=()
  log "starting the master; it runs until Ctrl-C (DEMO_DASHBOARD=1)"
else
  log "starting the master; it stops itself and the workers when the crawl is done"
fi
if [ "$dash" = 127.0.0.1:9100 ]; then
  log "the crawl dashboard: http://$dash/ (the master logs it too, as \"dashboard\")"
else
  log "port 9100 is taken: the master logs the dashboard's address (\"dashboard\")"
fi
bin/spyder master "${until_done[@]}" --seeds "$out/seeds.txt" --out "$out/pages.jsonl" --master-progress-interval 2
for p in "${pids[@]:1}"; do wait "$p" || true; done

log "crawl finished: $(wc -l <"$out/pages.jsonl") URLs in $out/pages.jsonl"
awk -F'"status":' '{split($2,a,","); n[a[1]]++} END {for (s in n) printf "  status %s: %d\n", s, n[s]}' "$out/pages.jsonl" | sort
echo "  requests the site served: $(grep -c ' /' "$out/site.log" || true)  (robots.txt first, then each page once; nothing off scope, nothing under /members/)"
