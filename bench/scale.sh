#!/usr/bin/env bash
# scale.sh: spyder's frontier at scale on one box (issue 14, item 6).
#
#   bench/scale.sh [URLS [HOSTS [DIR]]]     defaults: 10000000 1000000 /tmp/spyder-scale
#
# Generates URLS URLs spread evenly over HOSTS hosts (http://hostH.example/
# page/N.html), then measures with a spyder built from this checkout:
#   1. `spyder frontier inject` of the file into a fresh state directory
#      (multiple_host): wall, user and system CPU, peak RSS;
#   2. a master restarting on that state (RESTARTS times, default 3):
#      process start to its SPYDER:MASTER_READY event, and its RSS after
#      10 s with nothing in flight (no workers).
# It is a benchmark, not a test: 10M URLs take about a minute and 1.5 GB of
# disk; 100M over 10M hosts (`bench/scale.sh 100000000 10000000`) about ten
# minutes, 30 GB of disk (list, spill, store) and 7 GiB of memory. Every process it
# starts is stopped by pid when it exits. The master binds the default
# ports (5550-5553); set SPYDER_ZEROMQ_* to move them.
set -euo pipefail

urls=${1:-10000000}
hosts=${2:-1000000}
dir=${3:-/tmp/spyder-scale}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dir"
bin=$dir/spyder
state=$dir/state
list=$dir/urls-$urls-$hosts.txt
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

(cd "$repo" && go build -o "$bin" ./cmd/spyder)
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); spyder $(cd "$repo" && git rev-parse --short HEAD)"

if [ ! -s "$list" ]; then
	echo "generating $urls URLs over $hosts hosts in $list"
	awk -v n="$urls" -v h="$hosts" 'BEGIN { for (i = 0; i < n; i++) printf "http://host%d.example/page/%d.html\n", i % h, i }' > "$list"
fi

# peak_rss PID: polls the process's peak RSS (VmHWM) until it exits, and
# prints the last value seen in MiB.
peak_rss() {
	local hwm=0 v
	while v=$(awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null) && [ -n "$v" ]; do
		hwm=$v
		sleep 0.2
	done
	echo $((hwm / 1024))
}

rm -rf "$state"
echo "== inject: $urls URLs over $hosts hosts"
TIMEFORMAT='inject: %R s wall, %U s user, %S s system'
"$bin" frontier inject --state-dir "$state" --frontier-class multiple_host --log-format json "$list" > "$dir/inject.out" 2> "$dir/inject.err" &
pid=$!
pids+=("$pid")
peak_rss "$pid" > "$dir/inject.rss" &
poller=$!
# bash's time reports the CPU of the children reaped while it runs.
time wait "$pid" || { echo "inject failed:"; tail -5 "$dir/inject.err"; exit 1; }
wait "$poller"
cat "$dir/inject.out"
echo "inject: peak RSS $(cat "$dir/inject.rss") MiB (sampled every 0.2 s); store $(du -sh "$state" | cut -f1)"
unset TIMEFORMAT

echo "== restart on that state"
for run in $(seq "${RESTARTS:-3}"); do
	rm -f "$dir/master.out" "$dir/master.err" # the last run's ready event is not this one's
	t0=$(date +%s.%N)
	"$bin" master --state-dir "$state" --frontier-class multiple_host --master-callback "" --log-format json > "$dir/master.out" 2> "$dir/master.err" &
	pid=$!
	pids+=("$pid")
	until grep -q MASTER_READY "$dir/master.out" "$dir/master.err" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "master exited before it was ready:"
			tail -5 "$dir/master.err"
			exit 1
		fi
		sleep 0.05
	done
	t1=$(date +%s.%N)
	sleep 10
	echo "restart $run: ready after $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s; RSS after 10 s idle $(awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$pid/status") MiB (peak $(awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$pid/status") MiB)"
	kill -TERM "$pid"
	wait "$pid" || { echo "master did not stop cleanly"; exit 1; }
done
