#!/usr/bin/env bash
# Runs Leasehold's standard benchmark set (issue 6) and prints one markdown table.
#
# For each workload and each --sync mode in turn (full, then normal), it starts a fresh `leasehold serve` on a temporary
# data file and a free loopback port, runs `leasehold-bench` against it with --server-pid (so that the server's CPU
# and memory are read from /proc), and stops it. The mode `postgres` runs the same workloads against the active node
# of two nodes on PostgreSQL (issue 15): one throwaway cluster for the run (bench/lib/postgres.sh: initdb + pg_ctl in
# a temporary folder, as `nobody` when run as root, a free loopback port), a new empty database and two new nodes
# (`leasehold serve --store postgres://… --advertise …`) for each workload, the load on the active one. Results go to a folder of their own, bench/results/<date>-<commit>/
# (<date>-<workload>-<sync>.json each), so that a run never overwrites the results kept in git; the table also goes to
# <date>-summary.md there, with the command and the machine.
#
#   bench/run.sh                      # build in release mode, run everything (about 6 minutes on 2 cores)
#   BUILD=0 bench/run.sh              # reuse the release builds
#   SYNC_MODES=full QUICK=1 bench/run.sh   # a short smoke run: 2 s windows, 10,000 sessions, 100 watchers
#   SYNC_MODES="full postgres" bench/run.sh   # SQLite (--sync full) and PostgreSQL, two nodes, in the same run
#
# Settings (environment): SYNC_MODES ("full normal"; also "postgres"), SESSIONS_SYNC_MODES ("full postgres"), WORKLOADS (all: "uncontended
# uncontended-8conns contended-k1 contended-k16 sessions sessions-spread expiry watch ping ping-1loop ping-8conns"),
# DURATION (10s), WARMUP (2s), SESSIONS_COUNT (100000),
# SESSIONS_DURATION (60s), WATCHERS (1000), CLIENTS (64), RESULTS (bench/results/<date>-<commit>), DATA_DIR (${TMPDIR:-/tmp}),
# BUILD (1), QUICK (0), SERVER_ARGS (more `leasehold serve` flags, e.g. "--event-loops 1"), LEASEHOLD and BENCH (the
# server and generator binaries, for A/B runs of two builds: BUILD=0 LEASEHOLD=/other/tree/.build/release/leasehold),
# LEASE (the PostgreSQL nodes' --leader-lease, 3s), KEEP (1 keeps PostgreSQL's temporary folder).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
date=$(date +%F)

sync_modes=${SYNC_MODES:-"full normal"}
# Keepalives never touch the disk; --sync changes only how fast sessions open. The longest workload runs once.
sessions_sync_modes=${SESSIONS_SYNC_MODES:-"full postgres"}
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
server_sync=""
server_db=""

# PostgreSQL: one cluster for the whole run, started only when a mode needs it.
if [[ " $sync_modes " == *" postgres "* ]]; then
    # shellcheck source=bench/lib/postgres.sh
    source "$here/lib/postgres.sh"
    pg_start "$(mktemp -d "$data_dir/leasehold-bench-pg.XXXXXX")"
fi

start_server() {  # start_server SYNC NAME
    server_sync=$1
    if [[ $1 == postgres ]]; then
        # A new database and two new nodes: each workload starts from an empty store, as on SQLite.
        : >"$pg_dir/a.log"; : >"$pg_dir/b.log"
        server_db="bench_${2//-/_}"
        # shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
        nodes_start "$(pg_database "$server_db")" "${LEASE:-3s}" ${SERVER_ARGS:-} || exit 1
        server_pid=${node_pid[a]}
        server_address=$(node_address a)
        return
    fi
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
    if [[ $server_sync == postgres ]]; then
        nodes_stop
        if grep -qiE 'fatal|crash|critical' "$pg_dir/a.log" "$pg_dir/b.log"; then
            log "a node logged something alarming; their logs:"; tail -20 "$pg_dir/a.log" "$pg_dir/b.log" >&2
        fi
        pg_drop_database "$server_db"
        server_pid=""
        return
    fi
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
cleanup() {
    stop_server
    if declare -F pg_cleanup >/dev/null; then pg_cleanup; fi
}
trap cleanup EXIT

files=()

run() {  # run NAME SYNC WORKLOAD-ARGS...
    local name=$1 sync=$2; shift 2
    [[ " $workloads " == *" $name "* ]] || return 0
    local out="$results/$date-$name-$sync.json" label=$sync store=()
    start_server "$sync" "$name"
    # On PostgreSQL the CPU of PostgreSQL's processes is measured too (the postmaster and its backends).
    if [[ $sync == postgres ]]; then label="PostgreSQL, 2 nodes"; store=(--store-pid "$(pg_pid)"); fi
    log "$name on $label: leasehold-bench $* (server $server_address, pid $server_pid; load $(cut -d' ' -f1-3 /proc/loadavg))"
    if "$bench" "$@" --server "$server_address" --server-pid "$server_pid" --sync-mode "$label" "${store[@]}" \
        --output "$out" >"$out.txt" 2>&1; then
        files+=("$out")
    else
        log "$name on $label FAILED:"; cat "$out.txt" >&2
    fi
    rm -f "$out.txt"
    stop_server
}

# MARK: The standard set
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
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
common=(--clients "$clients" --duration "$duration" --warmup "$warmup")
# Each workload on every mode in turn (full, normal, postgres), so that the modes' figures of a workload are taken
# minutes apart at most: the machine's speed drifts over a run.
for name in $all_workloads; do
    for sync in $sync_modes; do
        case $name in
            uncontended) run uncontended "$sync" uncontended "${common[@]}" ;;
            uncontended-8conns) run uncontended-8conns "$sync" uncontended "${common[@]}" --connections 8 ;;
            contended-k1) run contended-k1 "$sync" contended --keys 1 "${common[@]}" ;;
            contended-k16) run contended-k16 "$sync" contended --keys 16 "${common[@]}" ;;
            sessions | sessions-spread)
                [[ " $sessions_sync_modes " == *" $sync "* ]] || continue
                # sessions-spread is the worst case: keepalives at scattered phases, as sessions of many separate
                # processes send them.
                extra=(); [[ $name == sessions-spread ]] && extra=(--schedule spread)
                run "$name" "$sync" sessions --count "$sessions_count" --duration "$sessions_duration" \
                    --warmup "$warmup" "${extra[@]}" ;;
            expiry) run expiry "$sync" expiry --duration "$duration" ;;
            watch) run watch "$sync" watch --watchers "$watchers" --duration "$duration" --warmup "$warmup" ;;
            ping) run ping "$sync" ping "${common[@]}" ;;
            # The generator on one event loop: it then takes at most one core, as redis-benchmark does.
            ping-1loop) run ping-1loop "$sync" ping "${common[@]}" --event-loops 1 ;;
            ping-8conns) run ping-8conns "$sync" ping "${common[@]}" --connections 8 ;;
        esac
    done
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
        "kernel $(uname -r); server and load generator on the same machine, over 127.0.0.1. Load average at the start" \
        "$load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg) (at each workload's start: below the table)."
    echo
    if [[ -n ${pg_dir:-} ]]; then
        echo "\"PostgreSQL, 2 nodes\": the active node of two \`leasehold serve --store postgres://…\` nodes (leader lease" \
            "${LEASE:-3s}) on PostgreSQL $(pg_version) (default fsync and synchronous_commit, no replica), a new database" \
            "and two new nodes for each workload, all on the same machine. \"server CPU\" is the active node's;" \
            "\"store CPU\" is PostgreSQL's (the postmaster and its backends), no longer in \"other CPU\"."
        echo
    fi
    # Every result of the day in a fixed order, so that re-running some workloads (WORKLOADS=...) updates the table.
    ordered=("$results/$date-fsync-before.json" "$results/$date-loopback-raw.json" "$results/$date-loopback-nio.json")
    for sync in full normal postgres; do
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
