#!/usr/bin/env bash
# Profiles a durable redis-server under `leasehold-bench redis-uncontended` (or redis-contended), the counterpart of
# bench/profile.sh for Leasehold: CPU, context switches and syscalls per acquire+release pair (perf stat), and where
# the samples go (perf record -e cpu-clock -g): kernel or user space, and the top symbols.
#
#   bench/profile-redis.sh                              # redis-uncontended, 64 clients on 64 connections
#   bench/profile-redis.sh redis-contended --keys 16
#
# Needs perf (Debian: linux-perf), redis-server, and leasehold-bench built in release mode.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
workload=${1:-redis-uncontended}
shift || true
bench="$here/.build/release/leasehold-bench"
[[ -x $bench ]] || { echo "build leasehold-bench in release mode first" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing: scripts/install-deps.sh redis-server" >&2; exit 1; }

work=$(mktemp -d)
redis_pid=""
cleanup() {
    if [[ -n $redis_pid ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --dir "$work" --appendonly yes --appendfsync always --save '' \
    --daemonize no --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do grep -q 'Ready to accept' "$work/redis.log" 2>/dev/null && break; sleep 0.1; done

"$bench" "$workload" "$@" --server "127.0.0.1:$port" --server-pid "$redis_pid" --warmup 2s --duration 12s \
    --sync-mode "appendfsync always" --json --output "$work/bench.json" >/dev/null 2>"$work/bench.err" &
bench_pid=$!
sleep 3

echo "# redis-server profile: $workload $* (appendfsync always), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
syscalls=read,write,writev,futex,epoll_wait,fdatasync,fsync
events="cpu-clock,context-switches,raw_syscalls:sys_enter"
for call in ${syscalls//,/ }; do events+=",syscalls:sys_enter_$call"; done
perf stat -x, -e "$events" -p "$redis_pid" -- sleep 4 2>"$work/stat.csv" >/dev/null
perf record -q -e cpu-clock -F 999 -g -p "$redis_pid" -o "$work/perf.data" -- sleep 4 2>/dev/null >/dev/null
wait "$bench_pid" || true

python3 - "$work" <<'EOF'
import collections, csv, json, re, subprocess, sys
work = sys.argv[1]
report = json.load(open(f"{work}/bench.json"))
figures = report["figures"]
rate = figures.get("pairsPerSecond") or figures.get("grantsPerSecond") or 0
op = "pair" if "pairsPerSecond" in figures else "grant"
stat = {}
for row in csv.reader(open(f"{work}/stat.csv")):
    if len(row) > 2 and row[0] and row[0][0].isdigit():
        stat[row[2]] = float(row[0])
print(f"Workload over its whole window: {rate:,.0f} {op}s/s; server CPU per {op} "
      f"{figures.get('serverCPUMicrosPerPair') or figures.get('serverCPUMicrosPerGrant')} µs (from /proc)")
ops = rate * 4  # the perf stat window is 4 s inside the workload's window
if ops:
    print(f"perf stat, 4 s: CPU per {op} {stat['cpu-clock'] * 1000 / ops:.1f} µs, context switches per {op} "
          f"{stat['context-switches'] / ops:.2f}, syscalls per {op} {stat['raw_syscalls:sys_enter'] / ops:.2f}: " + ", ".join(
              f"{name.split('sys_enter_')[1]} {value / ops:.2f}" for name, value in sorted(stat.items(), key=lambda kv: -kv[1])
              if name.startswith("syscalls:") and value > 0))
print()
script = subprocess.run(["perf", "script", "-i", f"{work}/perf.data", "-F", "ip,sym,dso"],
                        capture_output=True, text=True).stdout
total = 0; kernel = 0; own = collections.Counter(); dsos = collections.Counter(); inclusive = collections.Counter()
for block in script.split("\n\n"):
    frames = []
    for line in block.strip().split("\n"):
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m: frames.append((m.group(1).split("+0x")[0], m.group(2)))
    if not frames: continue
    total += 1
    symbol, dso = frames[0]
    own[symbol] += 1
    dsos["kernel" if "kernel" in dso else dso.rsplit("/", 1)[-1]] += 1
    for name in set(f[0] for f in frames): inclusive[name] += 1
print(f"Samples: {total} (cpu-clock, 999 Hz, 4 s). Self time by object:")
for dso, count in dsos.most_common(6): print(f"  {100 * count / total:5.1f}%  {dso}")
print("Top self-time symbols:")
for symbol, count in own.most_common(15): print(f"  {100 * count / total:5.1f}%  {symbol}")
print("Inclusive, selected:")
for name in ("aeProcessEvents", "readQueryFromClient", "processCommand", "call", "flushAppendOnlyFile",
             "redis_fsync", "handleClientsWithPendingWritesUsingThreads", "writeToClient", "evalGenericCommand",
             "luaCallFunction", "setCommand", "beforeSleep", "finish_task_switch", "do_fsync"):
    if inclusive[name]: print(f"  {100 * inclusive[name] / total:5.1f}%  {name}")
EOF
