#!/usr/bin/env bash
# Runs Leasehold's standard benchmark set (issue 6) and prints one markdown table.
#
# For each --sync mode (full, then normal) and each workload, it starts a fresh `leasehold serve` on a temporary
# data file and a free loopback port, runs `leasehold-bench` against it with --server-pid (so that the server's CPU
# and memory are read from /proc), and stops it. Results go to a folder of their own, bench/results/<date>-<commit>/
# (<date>-<workload>-<sync>.json each), so that a run never overwrites the results kept in git; the table also goes to
# <date>-summary.md there, with the command and the machine.
#
#   bench/run.sh                      # build in release mode, run everything (about 6 minutes on 2 cores)
#   BUILD=0 bench/run.sh              # reuse the release builds
#   SYNC_MODES=full QUICK=1 bench/run.sh   # a short smoke run: 2 s windows, 10,000 sessions, 100 watchers
#
# Settings (environment): SYNC_MODES ("full normal"), SESSIONS_SYNC_MODES ("full"), WORKLOADS (all: "uncontended
# uncontended-8conns contended-k1 contended-k16 sessions sessions-spread expiry watch ping ping-1loop ping-8conns"),
# DURATION (10s), WARMUP (2s), SESSIONS_COUNT (100000),
# SESSIONS_DURATION (60s), WATCHERS (1000), CLIENTS (64), RESULTS (bench/results/<date>-<commit>), DATA_DIR (${TMPDIR:-/tmp}),
# BUILD (1), QUICK (0), SERVER_ARGS (more `leasehold serve` flags, e.g. "--event-loops 1"), LEASEHOLD and BENCH (the
# server and generator binaries, for A/B runs of two builds: BUILD=0 LEASEHOLD=/other/tree/.build/release/leasehold).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
date=$(date +%F)

sync_modes=${SYNC_MODES:-"full normal"}
# Keepalives never touch the disk; --sync changes only how fast sessions open. The longest workload runs once.
sessions_sync_modes=${SESSIONS_SYNC_MODES:-full}
clients=${CLIENTS:-64}
if [[ ${QUICK:-0} == 1 ]]; then
    duration=${DURATION:-2s}; warmup=${WARMUP:-1s}
    sessions_count=${SESSIONS_COUNT:-10000}; sessions_duration=${SESSIONS_DURATION:-5s}
    watchers=${WATCHERS:-100}
else
    duration=${DURATION:-10s}; warmup=${WARMUP:-2s}
    sessions_count=${SESSIONS_COUNT:-100000}; sessions_duration=${SESSIONS_DURATION:-60s}
    watchers=${WATCHERS:-1000}
fi
all_workloads="uncontended uncontended-8conns contended-k1 contended-k16 sessions sessions-spread expiry watch ping ping-1loop ping-8conns"
workloads=${WORKLOADS:-$all_workloads}
results=${RESULTS:-$here/results/$date-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
data_dir=${DATA_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$results"

log() { printf '[run.sh %s] %s\n' "$(date +%T)" "$*" >&2; }

# MARK: Build
if [[ ${BUILD:-1} == 1 ]]; then
    log "building leasehold (release) in $root"
    (cd "$root" && swift build -c release --product leasehold >&2)
    log "building leasehold-bench (release) in $here"
    (cd "$here" && swift build -c release --product leasehold-bench >&2)
fi
leasehold=${LEASEHOLD:-$root/.build/release/leasehold}
bench=${BENCH:-$here/.build/release/leasehold-bench}
[[ -x $leasehold && -x $bench ]] || { echo "missing $leasehold or $bench: run with BUILD=1" >&2; exit 1; }

# MARK: Server
server_pid=""
server_dir=""
server_address=""

start_server() {  # start_server SYNC
    server_dir=$(mktemp -d "$data_dir/leasehold-bench.XXXXXX")
    # shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
    "$leasehold" serve --listen 127.0.0.1:0 --data "$server_dir/leasehold.db" --sync "$1" --log-level info ${SERVER_ARGS:-} \
        2>"$server_dir/server.log" &
    server_pid=$!
    local port=""
    for _ in $(seq 1 300); do  # up to 30 s
        port=$(grep -m1 'listening' "$server_dir/server.log" 2>/dev/null | sed -n 's/.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p' || true)
        [[ -n $port ]] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$server_dir/server.log" >&2; echo "server died" >&2; exit 1; }
        sleep 0.1
    done
    [[ -n $port ]] || { cat "$server_dir/server.log" >&2; echo "server did not listen within 30 s" >&2; exit 1; }
    server_address="127.0.0.1:$port"
}

stop_server() {
    [[ -n $server_pid ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do  # up to 10 s, then SIGKILL
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    if grep -qiE 'fatal|crash|critical' "$server_dir/server.log"; then
        log "the server logged something alarming; its log:"; tail -20 "$server_dir/server.log" >&2
    fi
    rm -rf "$server_dir"
    server_pid=""
}
trap stop_server EXIT

files=()

run() {  # run NAME SYNC WORKLOAD-ARGS...
    local name=$1 sync=$2; shift 2
    [[ " $workloads " == *" $name "* ]] || return 0
    local out="$results/$date-$name-$sync.json"
    start_server "$sync"
    log "$name --sync $sync: leasehold-bench $* (server $server_address, pid $server_pid; load $(cut -d' ' -f1-3 /proc/loadavg))"
    if "$bench" "$@" --server "$server_address" --server-pid "$server_pid" --sync-mode "$sync" --output "$out" \
        >"$out.txt" 2>&1; then
        files+=("$out")
    else
        log "$name --sync $sync FAILED:"; cat "$out.txt" >&2
    fi
    rm -f "$out.txt"
    stop_server
}

# MARK: The standard set
started=$(date +%s)
# The bound of a hand-off under --sync full: the sync latency of the data file's filesystem, before and after.
"$bench" fsync --dir "$data_dir" --count 200 --label before --output "$results/$date-fsync-before.json" >/dev/null
files+=("$results/$date-fsync-before.json")
# The bounds of every RPC workload: closed-loop round trips over as many loopback connections as clients with no RPC
# layer, answered by a raw echo server (the kernel's floor: ping cannot go faster) and by an empty SwiftNIO handler
# (SwiftNIO's own floor: no server on it can go faster).
if [[ " $workloads " == *" ping "* ]]; then
    for kind in raw nio; do
        "$bench" loopback --server-kind "$kind" --connections "$clients" --duration "$duration" --warmup "$warmup" \
            --output "$results/$date-loopback-$kind.json" >/dev/null
        files+=("$results/$date-loopback-$kind.json")
    done
fi
for sync in $sync_modes; do
    common=(--clients "$clients" --duration "$duration" --warmup "$warmup")
    run uncontended "$sync" uncontended "${common[@]}"
    run uncontended-8conns "$sync" uncontended "${common[@]}" --connections 8
    run contended-k1 "$sync" contended --keys 1 "${common[@]}"
    run contended-k16 "$sync" contended --keys 16 "${common[@]}"
    if [[ " $sessions_sync_modes " == *" $sync "* ]]; then
        run sessions "$sync" sessions --count "$sessions_count" --duration "$sessions_duration" --warmup "$warmup"
        # The worst case: keepalives at scattered phases, as sessions of many separate processes send them.
        run sessions-spread "$sync" sessions --count "$sessions_count" --duration "$sessions_duration" --warmup "$warmup" \
            --schedule spread
    fi
    run expiry "$sync" expiry --duration "$duration"
    run watch "$sync" watch --watchers "$watchers" --duration "$duration" --warmup "$warmup"
    run ping "$sync" ping "${common[@]}"
    # The same with the generator on one event loop: it then takes at most one core, as redis-benchmark does.
    run ping-1loop "$sync" ping "${common[@]}" --event-loops 1
    run ping-8conns "$sync" ping "${common[@]}" --connections 8
done

"$bench" fsync --dir "$data_dir" --count 200 --label after --output "$results/$date-fsync-after.json" >/dev/null
files+=("$results/$date-fsync-after.json")
log "done in $(( $(date +%s) - started )) s"

# MARK: Table
summary="$results/$date-summary.md"
{
    echo "# Leasehold benchmarks, $date"
    echo
    echo "Command: \`bench/run.sh\` (SYNC_MODES=\"$sync_modes\" SESSIONS_SYNC_MODES=\"$sessions_sync_modes\" CLIENTS=$clients DURATION=$duration WARMUP=$warmup" \
        "SESSIONS_COUNT=$sessions_count SESSIONS_DURATION=$sessions_duration WATCHERS=$watchers SERVER_ARGS=\"${SERVER_ARGS:-}\")"
    echo
    echo "Commit: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB," \
        "kernel $(uname -r); server and load generator on the same machine, over 127.0.0.1."
    echo
    # Every result of the day in a fixed order, so that re-running some workloads (WORKLOADS=...) updates the table.
    ordered=("$results/$date-fsync-before.json" "$results/$date-loopback-raw.json" "$results/$date-loopback-nio.json")
    for sync in full normal; do
        for name in $all_workloads; do ordered+=("$results/$date-$name-$sync.json"); done
    done
    ordered+=("$results/$date-fsync-after.json")
    existing=()
    for file in "${ordered[@]}"; do [[ -f $file ]] && existing+=("$file"); done
    if [[ ${#existing[@]} -gt ${#files[@]} ]]; then
        echo "(This table also holds results of earlier runs today; each JSON file has its own startedAt.)"
        echo
    fi
    "$bench" table "${existing[@]}"
} | tee "$summary"
