#!/usr/bin/env bash
# Failover time and grant throughput of two `leasehold serve` nodes on one PostgreSQL database (issue 15).
#
# Starts a throwaway PostgreSQL cluster in a temporary folder (initdb + pg_ctl, as `nobody` when run as root, on a
# free loopback port), then:
#   1. grants/s, uncontended (`leasehold-bench uncontended`), against a single SQLite server (--sync full) and
#      against the active node of a two-node PostgreSQL deployment, one after the other in the same run;
#   2. KILLS failovers: SIGKILL the active node, then time until a grant succeeds on the new active node, measured by
#      `leasehold lock --server A,B --wait 0 KEY -- true` started again and again until one succeeds (each try
#      starts a process: the figure is an upper bound, and the same CLI on a healthy node is measured as a
#      reference); the killed node is restarted as the standby before the next kill.
# Prints a markdown summary and saves it, with every measurement, in bench/results/<date>-failover-<commit>/.
#
#   bench/failover.sh                  # release builds, then everything (about 2 minutes on 2 cores)
#   BUILD=0 KILLS=3 bench/failover.sh  # reuse the release builds, 3 failovers
#
# Settings (environment): KILLS (10), LEASE (3s, --leader-lease), CLIENTS (64), DURATION (10s), WARMUP (2s),
# THROUGHPUT (1; 0 skips part 1), BUILD (1), RESULTS (bench/results/<date>-failover-<commit>), LEASEHOLD and BENCH (the binaries).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
date=$(date +%F)
kills=${KILLS:-10}
lease=${LEASE:-3s}
clients=${CLIENTS:-64}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
results=${RESULTS:-$here/results/$date-failover-$commit}
mkdir -p "$results"

log() { printf '[failover.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# MARK: Build
if [[ ${BUILD:-1} == 1 ]]; then
    log "building leasehold (release) in $root"
    (cd "$root" && swift build -c release --product leasehold >&2)
    log "building leasehold-bench (release) in $here"
    (cd "$here" && swift build -c release --product leasehold-bench >&2)
fi
leasehold=${LEASEHOLD:-$root/.build/release/leasehold}
bench=${BENCH:-$here/.build/release/leasehold-bench}
measure_throughput=${THROUGHPUT:-1}
[[ -x $leasehold && ( -x $bench || $measure_throughput == 0 ) ]] || {
    echo "missing $leasehold or $bench: run with BUILD=1" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# MARK: PostgreSQL
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $pg_bin/initdb ]] || { echo "PostgreSQL is not installed: run scripts/install-deps.sh" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/leasehold-failover.XXXXXX")
as_owner() { if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi; }
[[ $(id -u) == 0 ]] && chown nobody "$work"
pg_port=$(free_port)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    as_owner "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
    [[ ${KEEP:-0} == 1 ]] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
as_owner "$pg_bin/initdb" -D "$work/pg" -U leasehold --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
as_owner "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work -c max_connections=300" start >/dev/null
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U leasehold leasehold
store="postgres://leasehold@127.0.0.1:$pg_port/leasehold"
log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port (fsync on, synchronous_commit on)"

# MARK: Nodes
declare -A node_pid node_port
node_port[a]=$(free_port)
node_port[b]=$(free_port)
start_node() {  # start_node NAME
    local name=$1 address="127.0.0.1:${node_port[$1]}"
    "$leasehold" serve --listen "$address" --advertise "$address" --store "$store" --leader-lease "$lease" \
        --data "$work/$name.db" 2>>"$work/$name.log" &
    node_pid[$name]=$!
    pids+=("$!")
}
# A node's role is the last one its log announced since its last restart (a restarted node appends to its log).
role() {
    awk '/^restarted$/ { r = "" } /\[LeaseholdServer\] active$/ { r = "active" }
        /\[LeaseholdServer\] standby/ { r = "standby" } END { print r }' "$work/$1.log"
}
is_active() { [[ $(role "$1") == active ]]; }
is_standby() { [[ $(role "$1") == standby ]]; }
# A standby that knows the active node sends clients there: a command given only its address succeeds.
knows_leader() { "$leasehold" list --server "127.0.0.1:${node_port[$1]}" >/dev/null 2>&1; }
wait_until() {  # wait_until SECONDS COMMAND...: polls every 50 ms
    local limit=$(( $1 * 20 )); shift
    for _ in $(seq 1 "$limit"); do "$@" && return 0; sleep 0.05; done
    return 1
}
servers="127.0.0.1:${node_port[a]},127.0.0.1:${node_port[b]}"

# MARK: Throughput
throughput() {  # throughput NAME SERVER PID
    local out="$results/$date-uncontended-$1.json"
    log "uncontended on $1 ($2): $clients clients, $duration after $warmup"
    "$bench" uncontended --server "$2" --server-pid "$3" --sync-mode "$1" --clients "$clients" \
        --duration "$duration" --warmup "$warmup" --output "$out" >"$out.txt" 2>&1 || { cat "$out.txt" >&2; exit 1; }
    rm -f "$out.txt"
}
if [[ $measure_throughput == 1 ]]; then
sqlite_port=$(free_port)
"$leasehold" serve --listen "127.0.0.1:$sqlite_port" --data "$work/sqlite.db" --sync full 2>"$work/sqlite.log" &
sqlite_pid=$!
pids+=("$sqlite_pid")
wait_until 30 "$leasehold" list --server "127.0.0.1:$sqlite_port" >/dev/null
throughput sqlite-full "127.0.0.1:$sqlite_port" "$sqlite_pid"
kill -TERM "$sqlite_pid"; wait "$sqlite_pid" 2>/dev/null || true
fi

start_node a
wait_until 30 is_active a || { cat "$work/a.log" >&2; exit 1; }
start_node b
wait_until 30 knows_leader b || { cat "$work/b.log" >&2; exit 1; }
[[ $measure_throughput == 1 ]] && throughput postgres "127.0.0.1:${node_port[a]}" "${node_pid[a]}"

# MARK: Failovers
# The CLI's own cost: one try-lock, from process start to exit, on a healthy active node.
reference=()
for i in $(seq 1 5); do
    t0=$(now_ms)
    "$leasehold" lock --server "$servers" --wait 0 "bench/reference-$i" -- true
    reference+=($(( $(now_ms) - t0 )))
done
times=()
tries=()
for i in $(seq 1 "$kills"); do
    if is_active a; then active=a; standby=b; else active=b; standby=a; fi
    wait_until 30 knows_leader "$standby" || { log "$standby never named the active node"; exit 1; }
    t0=$(now_ms)
    kill -KILL "${node_pid[$active]}"
    n=0
    until "$leasehold" lock --server "$servers" --wait 0 "bench/failover-$i" -- true 2>/dev/null; do
        n=$((n + 1))
        (( n < 2000 )) || { log "no grant after $n tries"; exit 1; }
    done
    elapsed=$(( $(now_ms) - t0 ))
    times+=("$elapsed")
    tries+=("$n")
    log "failover $i: $active killed, grant on $standby after $elapsed ms ($n refused tries before)"
    wait "${node_pid[$active]}" 2>/dev/null || true
    echo "restarted" >>"$work/$active.log"  # the old incarnation's role lines no longer count
    start_node "$active"
    wait_until 30 is_standby "$active" || { log "$active did not come back as a standby"; exit 1; }
done

# MARK: Summary
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "p50 %d ms, max %d ms", v[int((NR + 1) / 2)], v[NR] }'; }
summary="$results/$date-summary.md"
{
    echo "# Failover on PostgreSQL, $date"
    echo
    echo "Command: \`bench/failover.sh\` (KILLS=$kills LEASE=$lease CLIENTS=$clients DURATION=$duration WARMUP=$warmup)"
    echo
    echo "Commit: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB," \
        "kernel $(uname -r); PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') (default fsync and synchronous_commit," \
        "no replica), both nodes, the SQLite server and the load generator on the same machine, over 127.0.0.1."
    echo
    echo "## Failover: active SIGKILLed → first grant on the new active (leader lease $lease)"
    echo
    echo "- $kills failovers: $(stats "${times[@]}") (each: ${times[*]} ms)"
    echo "- refused tries before the grant: ${tries[*]}"
    echo "- the same \`leasehold lock --wait 0 … -- true\` on a healthy active (process start to exit): $(stats "${reference[@]}")"
    echo
    if [[ $measure_throughput == 1 ]]; then
        echo "## Uncontended acquire+release, $clients clients, one connection each"
        echo
        "$bench" table "$results/$date-uncontended-sqlite-full.json" "$results/$date-uncontended-postgres.json"
    fi
} | tee "$summary"
