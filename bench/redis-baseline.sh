#!/usr/bin/env bash
# Measures a durable Redis on this machine with redis-benchmark, as the reference point the targets of issue 6 are
# set against: the same client counts, over 127.0.0.1, one call in flight per connection (no pipelining).
#
#   bench/redis-baseline.sh                 # needs redis-server and redis-benchmark (Debian: redis-server, redis-tools)
#   INSTALL=1 bench/redis-baseline.sh       # installs them first (scripts/install-deps.sh)
#
# Redis runs with `appendonly yes`, `appendfsync always` (an fsync of the AOF before the replies of each event-loop
# pass) and no snapshots, on a temporary folder beside the one `bench/run.sh` uses. For each test the table gives
# requests/s, p50/p99, and the CPU of redis-server and of redis-benchmark per request, read from /proc and from
# time(1), so that the figures compare with Leasehold's "server CPU per call". A lock+unlock pair is two such writes.
#
# Settings (environment): REQUESTS (1000000 per PING test, half that per SET test), RESULTS
# (bench/results/<date>-redis-baseline), DATA_DIR (${TMPDIR:-/tmp}), INSTALL (0).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
date=$(date +%F)
requests=${REQUESTS:-1000000}
results=${RESULTS:-$here/results/$date-redis-baseline}
data_dir=${DATA_DIR:-${TMPDIR:-/tmp}}

log() { printf '[redis-baseline.sh %s] %s\n' "$(date +%T)" "$*" >&2; }

if [[ ${INSTALL:-0} == 1 ]]; then
    "$(dirname "$here")/scripts/install-deps.sh" redis-server redis-tools time
fi
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null || [[ ! -x /usr/bin/time ]]; then
    echo "redis-server, redis-benchmark and /usr/bin/time are needed (Debian: redis-server redis-tools time), or INSTALL=1" >&2
    exit 1
fi
mkdir -p "$results"

# MARK: Server
dir=$(mktemp -d "$data_dir/redis-baseline.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --appendfsync always --save '' \
    --daemonize no --logfile "$dir/redis.log" &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { cat "$dir/redis.log" >&2; echo "redis-server did not start" >&2; exit 1; }

# Ticks of user + system CPU of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

rows=()
measure() {  # measure LABEL CONNECTIONS COUNT REDIS-BENCHMARK-ARGS...
    local label=$1 connections=$2 count=$3; shift 3
    local before after csv client
    before=$(cpu_ticks "$redis_pid")
    /usr/bin/time -f '%U %S' -o "$dir/time" \
        redis-benchmark -p "$port" -c "$connections" -n "$count" --csv "$@" >"$dir/csv" 2>/dev/null
    after=$(cpu_ticks "$redis_pid")
    csv=$(grep -v '^"test"' "$dir/csv" | tail -1)  # "test","rps","avg","min","p50","p95","p99","max"
    client=$(awk '{print $1 + $2}' "$dir/time")
    rows+=("$(awk -F'","' -v label="$label" -v conns="$connections" -v count="$count" \
        -v server="$(( after - before ))" -v hz="$ticks_per_second" -v client="$client" '{
            gsub(/"/, "", $0); split($0, f, ",")
            printf "| %s | %d | %d | %.3f / %.3f ms | %.1f µs | %.1f µs |", label, conns, f[2], f[5], f[7],
                server / hz / count * 1e6, client / count * 1e6
        }' <<<"$csv")")
    log "${rows[-1]}"
}

log "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port, data in $dir"
measure "PING" 64 "$requests" -t ping_mbulk
measure "PING" 8 "$requests" -t ping_mbulk
measure "SET, 1,000,000 random keys (durable)" 64 $(( requests / 2 )) -r 1000000 -t set
measure "SET key value NX PX 10000, random keys (durable)" 64 $(( requests / 2 )) -r 1000000 \
    SET 'lock:__rand_int__' owner NX PX 10000

# MARK: Table
summary="$results/$date-redis-baseline.md"
{
    echo "# Redis baseline, $date"
    echo
    echo "Command: \`bench/redis-baseline.sh\` (REQUESTS=$requests)"
    echo
    echo "Redis: $(redis-server --version), \`appendonly yes\`, \`appendfsync always\`, \`save ''\`; redis-benchmark from the same" \
        "package, one call in flight per connection."
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB," \
        "kernel $(uname -r); server and client on the same machine, over 127.0.0.1. Data in $data_dir."
    echo
    echo "| test | connections | requests/s | p50 / p99 | redis-server CPU per request | redis-benchmark CPU per request |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} | tee "$summary"
