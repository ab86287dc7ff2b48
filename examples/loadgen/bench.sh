#!/usr/bin/env bash
# Reproduces the figures of examples/loadgen/README.md: builds the demo
# server (no -race) and loadgen, runs every scenario REPEAT times, each
# against a fresh server process on loopback, and prints the medians.
# Every run is bounded by its message count and -duration.
#
#	examples/loadgen/bench.sh                 # all scenarios
#	examples/loadgen/bench.sh saturation      # one of them
#	examples/loadgen/bench.sh curve           # throughput against latency
#	examples/loadgen/bench.sh profile         # CPU and heap profiles of the server
#
# Needs jq. Raw results go to $OUT/*.jsonl (default /tmp/epchat-bench).
# On a machine shared with other work, NICE=-10 (root) gives the server and
# loadgen the CPU first; each JSON line records the load average before it.
set -euo pipefail
cd "$(dirname "$0")/.." # the examples module

OUT=${OUT:-/tmp/epchat-bench}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18080}
DEBUG_PORT=${DEBUG_PORT:-16060}
NICE=${NICE:-0}
mkdir -p "$OUT"
go build -o "$OUT/server" ./server
go build -o "$OUT/loadgen" ./loadgen
# Both processes need a descriptor per connection; Go already lifts the
# soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"

# 20 000 members would need more than 20 000 descriptors in one process;
# where the hard limit is 20 000 and cannot be raised (no CAP_SYS_RESOURCE),
# the big idle run seats a little fewer.
BIG=$(($(ulimit -Hn) - 100))
BIG=$((BIG < 20000 ? BIG : 20000))

declare -A SCENARIO=(
	[idle10k]="-n 10000 -k 10 -m 0 -settle 3s"
	[idle20k]="-n $BIG -k 10 -m 0 -settle 3s"
	[saturation]="-n 2000 -k 10 -m 300 -window 64 -settle 1s"
	[latency]="-n 2000 -k 10 -m 20 -rate 2 -settle 1s"
	# The curve between the two: paced load, then shallower windows.
	[rate5]="-n 2000 -k 10 -m 50 -rate 5 -settle 1s"
	[rate10]="-n 2000 -k 10 -m 100 -rate 10 -settle 1s"
	[rate25]="-n 2000 -k 10 -m 250 -rate 25 -settle 1s"
	[rate50]="-n 2000 -k 10 -m 500 -rate 50 -settle 1s"
	[window1]="-n 2000 -k 10 -m 100 -window 1 -settle 1s"
	[window8]="-n 2000 -k 10 -m 200 -window 8 -settle 1s"
)
ORDER=(idle10k idle20k saturation latency)
CURVE=(rate5 rate10 rate25 rate50 window1 window8)

server_pid=""
start_server() {
	# The Hub's limits per address and per connection are for the
	# internet, not for thousands of members from four loopback addresses.
	nice -n "$NICE" "$OUT/server" -addr "127.0.0.1:$PORT" \
		-max-conns 1000000 -max-conns-per-addr 1000000 -request-rate 1000000 "$@" >/dev/null 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "server did not start" >&2
	return 1
}
stop_server() {
	kill -INT "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	sleep 2 # let the closed connections' ports settle
}
trap 'if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi' EXIT

run_scenario() {
	local name=$1 args=${SCENARIO[$1]}
	: >"$OUT/$name.jsonl"
	for i in $(seq "$REPEAT"); do
		start_server
		load=$(cut -d' ' -f1 /proc/loadavg)
		# shellcheck disable=SC2086
		nice -n "$NICE" "$OUT/loadgen" -url "ws://127.0.0.1:$PORT/chat/" -server-pid "$server_pid" \
			-duration 2m -json $args |
			jq -c --arg s "$name" --arg l "$load" '. + {scenario: $s, loadavg_before: ($l | tonumber)}' |
			tee -a "$OUT/$name.jsonl"
		stop_server
	done
}

median() { # file, jq expression
	jq -s "map($2) | sort | .[(length / 2 | floor)]" "$1"
}

summary() {
	local name=$1 f="$OUT/$1.jsonl"
	case $name in
	idle*)
		printf '%-11s members %s  RSS/member %.0f B  joins/s %.0f  (server CPU per join %.1f µs)\n' "$name" \
			"$(median "$f" .seated)" "$(median "$f" .server_rss_per_member_bytes)" \
			"$(median "$f" .joins_per_sec)" "$(median "$f" '.seat_server_cpu_seconds / .seated * 1e6')"
		;;
	*)
		printf '%-11s deliveries/s %.0f  server CPU/delivery %.2f µs  loadgen CPU %.2fs  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n' "$name" \
			"$(median "$f" .deliveries_per_sec)" "$(median "$f" .server_cpu_per_delivery_us)" \
			"$(median "$f" .send_loadgen_cpu_seconds)" "$(median "$f" .latency_p50_ms)" \
			"$(median "$f" .latency_p99_ms)" "$(median "$f" .latency_max_ms)"
		;;
	esac
}

# wait_for waits (bounded) for loadgen to report a phase on its stderr.
wait_for() { # file, text
	for _ in $(seq 600); do
		if grep -q "$2" "$1" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "loadgen never reported $2" >&2
	return 1
}

# profile takes four profiles of the server: CPU while 10 000 members are
# seated, heap once they sit idle, CPU for 10 s of saturation, and CPU for
# 8 s of the paced latency scenario.
profile() {
	local dbg="http://127.0.0.1:$DEBUG_PORT/debug/pprof"
	start_server -debug-addr "127.0.0.1:$DEBUG_PORT"
	nice -n "$NICE" "$OUT/loadgen" -url "ws://127.0.0.1:$PORT/chat/" -server-pid "$server_pid" \
		-n 10000 -k 10 -m 0 -settle 5s -duration 2m 2>"$OUT/seat.err" &
	local lg=$!
	curl -s -o "$OUT/seat-cpu.prof" "$dbg/profile?seconds=3"
	wait_for "$OUT/seat.err" seated
	sleep 2
	curl -s -o "$OUT/idle-heap.prof" "$dbg/heap?gc=1"
	wait "$lg" || true
	stop_server

	start_server -debug-addr "127.0.0.1:$DEBUG_PORT"
	nice -n "$NICE" "$OUT/loadgen" -url "ws://127.0.0.1:$PORT/chat/" -server-pid "$server_pid" \
		-n 2000 -k 10 -m 1500 -window 64 -settle 1s -duration 2m 2>"$OUT/send.err" &
	lg=$!
	wait_for "$OUT/send.err" sending
	sleep 1
	curl -s -o "$OUT/send-cpu.prof" "$dbg/profile?seconds=10"
	wait "$lg" || true
	stop_server

	start_server -debug-addr "127.0.0.1:$DEBUG_PORT"
	nice -n "$NICE" "$OUT/loadgen" -url "ws://127.0.0.1:$PORT/chat/" -server-pid "$server_pid" \
		-n 2000 -k 10 -m 24 -rate 2 -settle 1s -duration 2m 2>"$OUT/paced.err" &
	lg=$!
	wait_for "$OUT/paced.err" sending
	sleep 1
	curl -s -o "$OUT/paced-cpu.prof" "$dbg/profile?seconds=8"
	wait "$lg" || true
	stop_server

	for p in seat-cpu send-cpu paced-cpu; do
		go tool pprof -top -nodecount=40 "$OUT/server" "$OUT/$p.prof" >"$OUT/$p.top" 2>/dev/null
	done
	go tool pprof -top -sample_index=inuse_space -nodecount=40 "$OUT/server" "$OUT/idle-heap.prof" >"$OUT/idle-heap.top" 2>/dev/null
	echo "profiles and their top lists are in $OUT: seat-cpu, idle-heap, send-cpu, paced-cpu (.prof, .top)"
}

if [ "${1:-}" = profile ]; then
	profile
	exit 0
fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ORDER[@]}")
[ "${names[*]}" != curve ] || names=("${CURVE[@]}")
for n in "${names[@]}"; do
	run_scenario "$n"
done
echo
for n in "${names[@]}"; do
	summary "$n"
done
