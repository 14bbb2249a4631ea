#!/usr/bin/env bash
# Failover time of two `leasehold serve` nodes on one PostgreSQL database (issue 15).
#
# Starts a throwaway PostgreSQL cluster and two nodes on it (bench/lib/postgres.sh: initdb + pg_ctl in a temporary
# folder, as `nobody` when run as root, free loopback ports), and one long-lived client, `leasehold-bench
# failover-probe`: the Swift client with both addresses, holding a session (TTL PROBE_TTL) and a lock. Then, KILLS
# times: record the wall-clock time, SIGKILL the active node, and read from the probe's output (one line per event,
# each with its own wall-clock time) when its session noticed (jeopardy), when it was resumed on the new active
# (jeopardy → safe), and when a try-lock through the same client was granted there; the probe also checks that its
# lock is still its own with the same fencing token. The killed node comes back as the standby before the next kill.
#
# Then CLI_KILLS more failovers measured the old way, as a reference: `leasehold lock --server A,B --wait 0 KEY --
# true` started again and again right after the kill until one succeeds (an upper bound that includes starting a
# process each time; the same CLI on a healthy node is timed too). The probe keeps running through them.
#
# Prints a markdown summary (p50 / p99 / max) and saves it, with every measurement, in
# bench/results/<date>-failover-<commit>/. Throughput on PostgreSQL is bench/run.sh's (SYNC_MODES="full postgres").
#
#   bench/failover.sh                  # release builds, then 10 + 5 failovers (about a minute on 2 cores)
#   BUILD=0 KILLS=3 CLI_KILLS=1 bench/failover.sh
#
# Settings (environment): KILLS (10), CLI_KILLS (5), LEASE (3s, --leader-lease), PROBE_TTL (10s), TIMEOUT (20: the
# longest a failover may take, in seconds, before the run fails), BUILD (1), RESULTS
# (bench/results/<date>-failover-<commit>), KEEP (0; 1 keeps the temporary folder), LEASEHOLD and BENCH (the binaries).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
date=$(date +%F)
kills=${KILLS:-10}
cli_kills=${CLI_KILLS:-5}
lease=${LEASE:-3s}
probe_ttl=${PROBE_TTL:-10s}
timeout=${TIMEOUT:-20}
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
results=${RESULTS:-$here/results/$date-failover-$commit}
mkdir -p "$results"

log() { printf '[failover.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
# Wall-clock milliseconds (CLOCK_REALTIME), the probe's clock.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

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

# MARK: PostgreSQL and the nodes
# shellcheck source=bench/lib/postgres.sh
source "$here/lib/postgres.sh"
probe_pid=""
cleanup() {
    [[ -n $probe_pid ]] && kill -KILL "$probe_pid" 2>/dev/null
    pg_cleanup
}
trap cleanup EXIT
pg_start "$(mktemp -d "${TMPDIR:-/tmp}/leasehold-failover.XXXXXX")"
store=$(pg_database leasehold)
nodes_start "$store" "$lease"
servers=$(nodes_servers)
load_start=$(loadavg)

# MARK: The probe
probe_out="$pg_dir/probe.out"
# It counts failovers by its session's jeopardy → safe; a jeopardy without a kill (a keepalive lost to load) would
# count too, so it is given room for more than the kills and stopped at the end.
"$bench" failover-probe --servers "$servers" --ttl "$probe_ttl" --failovers $(( 2 * (kills + cli_kills) + 10 )) \
    --timeout "${timeout}s" >"$probe_out" 2>"$pg_dir/probe.err" &
probe_pid=$!
probe_failed() {
    log "the probe failed; its output:"
    cat "$probe_out" "$pg_dir/probe.err" >&2
    exit 1
}
# probe_time EVENT MS: the wall-clock time of the probe's first line "EVENT …" at or after MS, empty if none yet.
probe_time() { awk -v e="$1" -v t="$2" '$2 == e && $1 >= t { print $1; exit }' "$probe_out"; }
probe_has() { [[ -n $(probe_time "$1" "$2") ]] || { kill -0 "$probe_pid" 2>/dev/null || probe_failed; return 1; }; }
wait_until 30 grep -q ' ready ' "$probe_out" || probe_failed
log "probe: $(grep ' ready ' "$probe_out")"

# MARK: Failovers
# The CLI's own cost: one try-lock, from process start to exit, on a healthy active node.
reference=()
for i in $(seq 1 5); do
    t0=$(now_ms)
    "$leasehold" lock --server "$servers" --wait 0 "bench/reference-$i" -- true
    reference+=($(( $(now_ms) - t0 )))
done

lease_ms=$(awk -v l="$lease" 'BEGIN { if (l ~ /ms$/) print l + 0; else print (l + 0) * 1000 }')
csv="$results/$date-failovers.csv"
echo "failover,measured_by,killed,kill_ms,noticed_ms,resumed_ms,grant_ms,cli_grant_ms,cli_refused_tries,load1" >"$csv"
noticed=(); resumed=(); granted=(); cli=(); tries=(); cli_resumed=()
for i in $(seq 1 $(( kills + cli_kills ))); do
    if node_is_active a; then active=a; standby=b; else active=b; standby=a; fi
    wait_until 30 node_knows_leader "$standby" || { log "$standby never named the active node"; exit 1; }
    load1=$(cut -d' ' -f1 /proc/loadavg)
    t_kill=$(now_ms)
    node_kill "$active"
    by=probe; cli_ms=""; n=""
    if (( i > kills )); then
        by=cli; n=0
        until "$leasehold" lock --server "$servers" --wait 0 "bench/failover-cli-$i" -- true 2>/dev/null; do
            n=$((n + 1))
            (( $(now_ms) - t_kill < timeout * 1000 )) || { log "failover $i: no grant by the CLI within ${timeout} s"; exit 1; }
        done
        cli_ms=$(( $(now_ms) - t_kill ))
    fi
    # The probe's resume, grant and lock check after this failover, each bounded.
    remaining=$(( timeout - ($(now_ms) - t_kill) / 1000 + 1 ))
    wait_until "$(( remaining > 1 ? remaining : 1 ))" probe_has held "$t_kill" || {
        log "failover $i: the probe did not resume, take a new lock and find its lock within ${timeout} s of the kill"
        probe_failed
    }
    jeopardy=$(probe_time jeopardy "$t_kill")  # none if the session was already in jeopardy at the kill
    n_ms=$([[ -n $jeopardy ]] && echo $(( jeopardy - t_kill )) || echo "")
    r_ms=$(( $(probe_time resumed "$t_kill") - t_kill ))
    g_ms=$(( $(probe_time grant "$t_kill") - t_kill ))
    echo "$i,$by,$active,$t_kill,$n_ms,$r_ms,$g_ms,$cli_ms,$n,$load1" >>"$csv"
    if [[ $by == probe ]]; then
        [[ -n $n_ms ]] && noticed+=("$n_ms")
        resumed+=("$r_ms"); granted+=("$g_ms")
        log "failover $i: $active killed (load $load1); the probe noticed after $n_ms ms, resumed after $r_ms ms," \
            "first grant after $g_ms ms"
    else
        cli+=("$cli_ms"); tries+=("$n"); cli_resumed+=("$r_ms")
        log "failover $i: $active killed (load $load1); the CLI's first grant after $cli_ms ms ($n refused tries" \
            "before); the probe resumed after $r_ms ms"
    fi
    node_start "$active" "$store" "$lease"
    wait_until 30 node_is_standby "$active" || { log "$active did not come back as a standby"; exit 1; }
done
kill -0 "$probe_pid" 2>/dev/null || probe_failed
kill -TERM "$probe_pid"; wait "$probe_pid" 2>/dev/null || true
probe_pid=""
jeopardies=$(grep -c ' jeopardy ' "$probe_out" || true)
cp "$probe_out" "$results/$date-probe.txt"
load_end=$(loadavg)

# MARK: Summary
# Nearest-rank percentiles: over 10 values p99 is the largest.
stats() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
        END { printf "p50 %d ms, p99 %d ms, max %d ms", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)], v[NR] }'
}
p99() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int(NR * 0.99 + 0.999)] }'; }
summary="$results/$date-summary.md"
{
    echo "# Failover on PostgreSQL, $date"
    echo
    echo "Command: \`bench/failover.sh\` (KILLS=$kills CLI_KILLS=$cli_kills LEASE=$lease PROBE_TTL=$probe_ttl TIMEOUT=$timeout)"
    echo
    echo "Commit: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB," \
        "kernel $(uname -r); PostgreSQL $(pg_version) (default fsync and synchronous_commit, no replica), both nodes," \
        "the probe and the CLI on the same machine, over 127.0.0.1. Load average at the start $load_start, at the end" \
        "$load_end (each failover's 1-minute load is in the CSV)."
    echo
    echo "## Active SIGKILLed → the probe's session, leader lease $lease, session TTL $probe_ttl ($kills failovers)"
    echo
    echo "One \`leasehold-bench failover-probe\` (the Swift client, both addresses) holds a session and a lock"
    echo "throughout; times are from just before \`kill -KILL\` to the probe's event, on the wall clock."
    echo
    echo "- noticed (the session reports jeopardy): $(stats "${noticed[@]}")"
    r99=$(p99 "${resumed[@]}")
    echo "- **session resumed** on the new active (jeopardy → safe): $(stats "${resumed[@]}");" \
        "target p99 ≤ lease + 2 s = $(( lease_ms + 2000 )) ms: $([[ $r99 -le $(( lease_ms + 2000 )) ]] && echo met || echo "not met")"
    echo "- first grant through the same client (a try-lock after the resume): $(stats "${granted[@]}")"
    echo "- each, in ms: noticed ${noticed[*]}; resumed ${resumed[*]}; first grant ${granted[*]}"
    echo "- after every failover the probe's lock was still its own, with the same fencing token (the probe checks it)"
    echo "- the probe's session reported jeopardy $jeopardies times in $(( kills + cli_kills )) failovers"
    echo
    if (( cli_kills > 0 )); then
        echo "## Reference: first grant by a new \`leasehold lock\` process (CLI_KILLS=$cli_kills failovers)"
        echo
        echo "- active SIGKILLed → \`leasehold lock --server A,B --wait 0 … -- true\`, started again and again," \
            "succeeds: $(stats "${cli[@]}") (each: ${cli[*]} ms; refused tries before: ${tries[*]})"
        echo "- the same command on a healthy active (process start to exit): $(stats "${reference[@]}")"
        echo "- the probe's resume in these failovers, with the CLI processes starting beside it: $(stats "${cli_resumed[@]}")"
        echo
    fi
    echo "Every failover: \`$(basename "$csv")\`; the probe's own output: \`$date-probe.txt\`."
} | tee "$summary"
