#!/usr/bin/env bash
# What TLS costs: the same workloads against a plaintext and a TLS `leasehold serve`, in interleaved rounds (plain,
# TLS, plain, TLS, …) so that a machine whose load drifts during the run weighs on both alike.
#
#   bench/tls.sh                          # release builds, then 3 rounds of ping and uncontended, 5 s windows
#   BUILD=0 ROUNDS=2 bench/tls.sh         # reuse the release builds
#
# Each round starts a fresh server per mode (plaintext; --tls-cert/--tls-key with a P-256 certificate that
# scripts/make-test-certs.sh makes here) and runs `leasehold-bench ping` and `uncontended`, the TLS ones with
# --tls-ca. Results (JSON per run and a summary with the command, the commit and the machine) go to
# bench/results/<date>-tls-<commit>/ unless RESULTS says otherwise. Settings (environment): ROUNDS (3), WORKLOADS
# ("ping uncontended"), CLIENTS (64), DURATION (5s), WARMUP (1s), BUILD (1), LEASEHOLD and BENCH (the binaries),
# RESULTS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
date=$(date +%F)
rounds=${ROUNDS:-3}
workloads=${WORKLOADS:-"ping uncontended"}
clients=${CLIENTS:-64}
duration=${DURATION:-5s}
warmup=${WARMUP:-1s}
results=${RESULTS:-$here/results/$date-tls-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
mkdir -p "$results"

log() { printf '[tls.sh %s] %s\n' "$(date +%T)" "$*" >&2; }

if [[ ${BUILD:-1} == 1 ]]; then
    log "building leasehold and leasehold-bench (release)"
    (cd "$root" && swift build -c release --product leasehold >&2)
    (cd "$here" && swift build -c release --product leasehold-bench >&2)
fi
leasehold=${LEASEHOLD:-$root/.build/release/leasehold}
bench=${BENCH:-$here/.build/release/leasehold-bench}
[[ -x $leasehold && -x $bench ]] || { echo "missing $leasehold or $bench: run with BUILD=1" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/leasehold-tls-bench.XXXXXX")
server_pid=""
cleanup() {
    if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A throwaway CA (ca.pem) and a server certificate for loopback (server.pem, server.key).
"$root/scripts/make-test-certs.sh" "$work" --server server

start_server() {  # start_server MODE
    local flags=()
    [[ $1 == tls ]] && flags=(--tls-cert "$work/server.pem" --tls-key "$work/server.key")
    rm -f "$work/leasehold.db"*
    "$leasehold" serve --listen 127.0.0.1:0 --data "$work/leasehold.db" --log-level info "${flags[@]}" \
        2>"$work/server.log" &
    server_pid=$!
    local port=""
    for _ in $(seq 1 300); do  # up to 30 s
        port=$(grep -m1 ' listening' "$work/server.log" 2>/dev/null | sed -n 's/.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p' || true)
        [[ -n $port ]] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "server died" >&2; exit 1; }
        sleep 0.1
    done
    [[ -n $port ]] || { cat "$work/server.log" >&2; echo "server did not listen" >&2; exit 1; }
    server_address="127.0.0.1:$port"
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

files=()
for round in $(seq 1 "$rounds"); do
    for mode in plain tls; do
        for workload in $workloads; do
            start_server "$mode"
            out="$results/$date-$workload-$mode-r$round.json"
            tls=()
            [[ $mode == tls ]] && tls=(--tls-ca "$work/ca.pem")
            log "round $round $mode $workload (load $(cut -d' ' -f1-3 /proc/loadavg))"
            "$bench" "$workload" --server "$server_address" --server-pid "$server_pid" --clients "$clients" \
                --duration "$duration" --warmup "$warmup" "${tls[@]}" --output "$out" >/dev/null
            files+=("$out")
            stop_server
        done
    done
done

summary="$results/$date-summary.md"
{
    echo "# TLS vs plaintext, $date"
    echo
    echo "Command: \`bench/tls.sh\` (ROUNDS=$rounds WORKLOADS=\"$workloads\" CLIENTS=$clients DURATION=$duration WARMUP=$warmup)"
    echo
    echo "Commit: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), kernel $(uname -r);" \
        "server and load generator on the same machine, over 127.0.0.1; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    "$bench" table "${files[@]}"
} >"$summary"
cat "$summary"
