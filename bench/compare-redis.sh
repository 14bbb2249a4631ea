#!/usr/bin/env bash
# Leasehold against a durable Redis, side by side, on the same machine, in one interleaved run (issue 17).
#
#   bench/compare-redis.sh                      # release builds, Redis from Debian if missing, 3 rounds
#   BUILD=0 ROUNDS=5 bench/compare-redis.sh     # reuse the release builds, 5 rounds
#   DURATION=4s WARMUP=1s ROUNDS=1 bench/compare-redis.sh   # a smoke run
#
# Workloads, the same shape for both servers, one call in flight per connection, 64 clients on 64 connections:
#   uncontended    Leasehold: Acquire(own key, wait 0) + Release      Redis: SET own key NX PX + Lua compare-and-delete
#   contended-k16  client i takes key i mod 16 and releases at once   Redis: the same; a held key is retried after
#   contended-k1   the same on one key                                 RETRY_DELAY (Redis has no queue)
# Durability: Leasehold `--sync full` (every answer after its commit's fdatasync); Redis `appendonly yes`,
# `appendfsync always` (the AOF is fsynced before the replies of each event-loop pass), no RDB snapshots.
#
# Each measurement gets a fresh server (Leasehold on a new data file, Redis on a new folder) on a free loopback port,
# stopped by PID afterwards. Within a round every workload runs on Leasehold and on Redis back to back; odd rounds run
# Leasehold first, even rounds Redis first, so that a drift of the machine's speed does not favour one server. The
# summary gives, per workload, the median and range over the rounds of each server's rate, CPU per operation (from
# /proc/<pid>/stat) and acquire p99, and of the per-round ratio Leasehold ÷ Redis, with the load averages.
#
# Settings (environment): ROUNDS (3), DURATION (10s), WARMUP (2s), CLIENTS (64), RETRY_DELAY (1ms),
# WORKLOADS ("uncontended contended-k16 contended-k1"), SERVER_ARGS (more `leasehold serve` flags), BUILD (1),
# RESULTS (bench/results/<date>-vs-redis), DATA_DIR (${TMPDIR:-/tmp}), LEASEHOLD and BENCH (the binaries),
# CANDIDATES (several Leasehold builds in the same run, for a before/after of a change against the same Redis:
# "before=/tree/a/.build/release/leasehold after=/tree/b/.build/release/leasehold"; each label gets its own table).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
date=$(date +%F)
rounds=${ROUNDS:-3}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
clients=${CLIENTS:-64}
retry_delay=${RETRY_DELAY:-1ms}
workloads=${WORKLOADS:-"uncontended contended-k16 contended-k1"}
results=${RESULTS:-$here/results/$date-vs-redis}
data_dir=${DATA_DIR:-${TMPDIR:-/tmp}}
mkdir -p "$results"

log() { printf '[compare-redis.sh %s] %s\n' "$(date +%T)" "$*" >&2; }

"$root/scripts/install-deps.sh" redis-server
if [[ ${BUILD:-1} == 1 ]]; then
    log "building leasehold (release) in $root"
    (cd "$root" && swift build -c release --product leasehold >&2)
    log "building leasehold-bench (release) in $here"
    (cd "$here" && swift build -c release --product leasehold-bench >&2)
fi
bench=${BENCH:-$here/.build/release/leasehold-bench}
declare -A binaries=()
labels=()
for candidate in ${CANDIDATES:-leasehold=${LEASEHOLD:-$root/.build/release/leasehold}}; do
    labels+=("${candidate%%=*}")
    binaries[${candidate%%=*}]=${candidate#*=}
done
for label in "${labels[@]}"; do
    [[ -x ${binaries[$label]} ]] || { echo "missing ${binaries[$label]}: run with BUILD=1" >&2; exit 1; }
done
[[ -x $bench ]] || { echo "missing $bench: run with BUILD=1" >&2; exit 1; }

# MARK: Servers
server_pid=""
server_dir=""
server_port=""

wait_for_exit() {  # SIGTERM, up to 10 s, then SIGKILL
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}

stop_server() {
    [[ -n $server_pid ]] || return 0
    wait_for_exit
    rm -rf "$server_dir"
    server_pid=""
}
trap stop_server EXIT

start_leasehold() {  # start_leasehold BINARY
    server_dir=$(mktemp -d "$data_dir/compare-leasehold.XXXXXX")
    # shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
    "$1" serve --listen 127.0.0.1:0 --data "$server_dir/leasehold.db" --sync full --log-level info \
        ${SERVER_ARGS:-} 2>"$server_dir/server.log" &
    server_pid=$!
    server_port=""
    for _ in $(seq 1 300); do  # up to 30 s
        server_port=$(grep -m1 'listening' "$server_dir/server.log" 2>/dev/null \
            | sed -n 's/.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p' || true)
        [[ -n $server_port ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$server_dir/server.log" >&2; echo "leasehold did not start" >&2; exit 1
}

start_redis() {
    server_dir=$(mktemp -d "$data_dir/compare-redis.XXXXXX")
    # A free port: bind to port 0, read it, close. Redis cannot listen on port 0 and report the port itself.
    server_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$server_port" --dir "$server_dir" --appendonly yes --appendfsync always \
        --save '' --daemonize no --logfile "$server_dir/redis.log" &
    server_pid=$!
    for _ in $(seq 1 300); do
        grep -q 'Ready to accept connections' "$server_dir/redis.log" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$server_dir/redis.log" >&2; echo "redis-server did not start" >&2; exit 1
}

# MARK: Runs
run_one() {  # run_one ROUND WORKLOAD SERVER
    local round=$1 workload=$2 server=$3 args=() sub
    case $workload in
        uncontended) args=(uncontended) ;;
        contended-k16) args=(contended --keys 16) ;;
        contended-k1) args=(contended --keys 1) ;;
        *) echo "unknown workload $workload" >&2; exit 1 ;;
    esac
    local out="$results/r$round-$workload-$server.json" sync
    if [[ $server != redis ]]; then
        start_leasehold "${binaries[$server]}"; sub=${args[0]}; sync=full
    else
        start_redis; sub=redis-${args[0]}; sync="appendfsync always"
        args+=(--retry-delay "$retry_delay")
        [[ $workload == uncontended ]] && args=(uncontended)
    fi
    log "round $round $workload on $server (pid $server_pid, port $server_port; load $(cut -d' ' -f1-3 /proc/loadavg))"
    if ! "$bench" "$sub" "${args[@]:1}" --clients "$clients" --duration "$duration" --warmup "$warmup" \
        --server "127.0.0.1:$server_port" --server-pid "$server_pid" --sync-mode "$sync" --output "$out" \
        >"$out.txt" 2>&1; then
        log "round $round $workload on $server FAILED:"; cat "$out.txt" >&2
    fi
    rm -f "$out.txt"
    stop_server
}

started=$(date +%s)
for round in $(seq 1 "$rounds"); do
    for workload in $workloads; do
        # Odd rounds in the order given, Redis last; even rounds reversed.
        order=("${labels[@]}" redis)
        if (( round % 2 == 0 )); then
            reversed=()
            for (( i = ${#order[@]} - 1; i >= 0; i-- )); do reversed+=("${order[i]}"); done
            order=("${reversed[@]}")
        fi
        for server in "${order[@]}"; do run_one "$round" "$workload" "$server"; done
    done
done
log "done in $(( $(date +%s) - started )) s"

# MARK: Summary
summary="$results/$date-summary.md"
{
    echo "# Leasehold vs durable Redis, $date"
    echo
    echo "Command: \`bench/compare-redis.sh\` (ROUNDS=$rounds DURATION=$duration WARMUP=$warmup CLIENTS=$clients" \
        "RETRY_DELAY=$retry_delay WORKLOADS=\"$workloads\" SERVER_ARGS=\"${SERVER_ARGS:-}\")"
    echo
    echo "Commit: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB," \
        "kernel $(uname -r); servers and load generator on the same machine, over 127.0.0.1, data in $data_dir."
    echo
    echo "Servers: \`leasehold serve --sync full ${SERVER_ARGS:-}\`; $(redis-server --version | cut -d' ' -f1-3)" \
        "with \`appendonly yes\`, \`appendfsync always\`, \`save ''\`. A fresh server for every measurement."
    echo
    for label in "${labels[@]}"; do
        [[ ${#labels[@]} -gt 1 ]] && { echo "## $label: ${binaries[$label]}"; echo; }
        python3 "$here/compare-redis-summary.py" "$results" "$rounds" "$label" $workloads
        echo
    done
} | tee "$summary"
