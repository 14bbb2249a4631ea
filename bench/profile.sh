#!/usr/bin/env bash
# Profiles the server under one leasehold-bench workload: where its CPU goes, per operation.
#
#   bench/profile.sh ping                        # KeepAlive, 64 clients
#   bench/profile.sh uncontended --connections 8
#   SYNC=normal bench/profile.sh contended --keys 1
#
# LEASEHOLD and BENCH name other binaries than the release builds of this tree.
# Needs perf (Debian: apt-get install linux-perf) and root (uprobes). Works without a hardware PMU: it uses the
# cpu-clock software event, syscall tracepoints and uprobes. While the workload runs it takes three windows on the
# server's process:
#   1. perf stat: CPU time, context switches and syscalls by kind, with a uprobe counting operations
#      (LockTable.keepAlive for ping and sessions, LockTable.release for the lock workloads);
#   2. perf stat: malloc calls (a uprobe on libc's malloc; its trap slows the server, so counts only), and the
#      thread hops: tasks handed to an event loop and wake-ups of a sleeping loop (uprobes on SwiftNIO);
#   3. perf record: sampled call stacks, summarized per thread and by inclusive time.
# Everything is printed per operation. The uprobes add a few µs per hit to the CPU figures of window 1.
# COUNTS=1 takes windows 1 and 2 only, on a 9 s run (about 15 s in all): the counts per operation, for A/B runs
# (bench/profile-ab.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
workload=${1:?usage: bench/profile.sh WORKLOAD [leasehold-bench options...]}
shift
sync=${SYNC:-full}
duration=16s
[[ ${COUNTS:-0} == 1 ]] && duration=9s
leasehold=${LEASEHOLD:-$root/.build/release/leasehold}
bench=${BENCH:-$here/.build/release/leasehold-bench}
[[ -x $leasehold && -x $bench ]] || { echo "build both in release mode first (bench/run.sh does)" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }

case $workload in
    ping|sessions) op_symbol='LockTableV9keepAlive_3now'; op_name=KeepAlive ;;
    *) op_symbol='LockTableV7release3key'; op_name='Release (one per acquire+release pair or grant)' ;;
esac
symbol=$(nm "$leasehold" | awk -v s="$op_symbol" '!found && $2 == "T" && index($3, s) {print $3; found = 1}')
perf probe -q -d 'probe_leasehold:*' 2>/dev/null || true
perf probe -q -d 'probe_libc:malloc' 2>/dev/null || true
perf probe -q -x "$leasehold" -a "lh_op=$symbol"
# The thread hops: tasks handed to an event loop (SwiftNIO's `_schedule0`, from any thread) and wake-ups of a
# sleeping loop by another thread (`_wakeupSelector`, an eventfd write).
for probe in lh_sched:SelectableEventLoopC10_schedule0 lh_wake:SelectableEventLoopC15_wakeupSelector; do
    name=${probe%%:*}
    found=$(nm "$leasehold" | awk -v s="${probe#*:}" '!found && $2 == "T" && index($3, s) {print $3; found = 1}')
    [[ -n $found ]] && perf probe -q -x "$leasehold" -a "$name=$found"
done
perf probe -q -x "$(ldd "$leasehold" | awk '$1 ~ /^libc\.so/ {print $3}')" -a malloc

work=$(mktemp -d)
cleanup() {
    [[ -n ${server_pid:-} ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    perf probe -q -d 'probe_leasehold:*' 2>/dev/null || true
    perf probe -q -d 'probe_libc:malloc' 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$leasehold" serve --listen 127.0.0.1:0 --data "$work/leasehold.db" --sync "$sync" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p; s/.*address=[^ ]*:\([0-9][0-9]*\).*listening.*/\1/p' "$work/server.log" | head -1)
[[ -n $port ]] || { cat "$work/server.log" >&2; exit 1; }

"$bench" "$workload" "$@" --server "127.0.0.1:$port" --server-pid "$server_pid" --warmup 2s --duration "$duration" \
    >"$work/bench.txt" 2>&1 &
bench_pid=$!
sleep 3

echo "# Server profile: $workload $* (--sync $sync), $(date -u +%FT%TZ), commit $(git -C "$root" rev-parse --short HEAD)"
echo "# Server binary: $leasehold"
echo
syscalls=read,write,writev,readv,futex,epoll_wait,epoll_ctl,fdatasync,fsync,pwrite64,pread64,sendmsg,recvmsg
events="cpu-clock,context-switches,raw_syscalls:sys_enter,probe_leasehold:lh_op"
for call in ${syscalls//,/ }; do events+=",syscalls:sys_enter_$call"; done
perf stat -x, -e "$events" -p "$server_pid" -- sleep 4 2>"$work/stat1.csv" >/dev/null
perf stat -x, -e probe_libc:malloc,probe_leasehold:lh_op,probe_leasehold:lh_sched,probe_leasehold:lh_wake \
    -p "$server_pid" -- sleep 2 2>"$work/stat2.csv" >/dev/null
if [[ ${COUNTS:-0} != 1 ]]; then
    perf record -q -F 999 -g -p "$server_pid" -o "$work/perf.data" -- sleep 4 2>/dev/null >/dev/null
    perf record -q -e probe_libc:malloc -g -p "$server_pid" -o "$work/malloc.data" -- sleep 1 2>/dev/null >/dev/null
fi
wait "$bench_pid" || true

python3 - "$work" "$op_name" <<'EOF'
import collections, csv, os, re, subprocess, sys
work, op_name = sys.argv[1], sys.argv[2]

def stat(path):
    values = {}
    for row in csv.reader(open(path)):
        if len(row) > 2 and row[0] and row[0][0].isdigit():
            values[row[2]] = float(row[0])
    return values

one, two = stat(f"{work}/stat1.csv"), stat(f"{work}/stat2.csv")
ops = one.get("probe_leasehold:lh_op", 0)
print(f"Operations counted ({op_name}): {ops:.0f} in 4 s = {ops / 4:,.0f}/s (uprobes slow the server a little)")
if ops:
    print(f"- server CPU per operation: {one['cpu-clock'] * 1000 / ops:.1f} µs")
    print(f"- context switches per operation: {one['context-switches'] / ops:.2f}")
    print(f"- syscalls per operation: {one['raw_syscalls:sys_enter'] / ops:.2f}, of which " + ", ".join(
        f"{name.split('sys_enter_')[1]} {value / ops:.2f}" for name, value in sorted(one.items(), key=lambda kv: -kv[1])
        if name.startswith("syscalls:") and value > 0))
if two.get("probe_leasehold:lh_op"):
    print(f"- malloc calls per operation: {two['probe_libc:malloc'] / two['probe_leasehold:lh_op']:.1f}")
    if "probe_leasehold:lh_sched" in two:
        print(f"- event-loop tasks scheduled per operation: "
              f"{two['probe_leasehold:lh_sched'] / two['probe_leasehold:lh_op']:.2f}")
    if "probe_leasehold:lh_wake" in two:
        print(f"- event-loop wake-ups by other threads per operation: "
              f"{two['probe_leasehold:lh_wake'] / two['probe_leasehold:lh_op']:.2f}")
print()
if not os.path.exists(f"{work}/perf.data"):  # COUNTS=1
    sys.exit(0)

script = subprocess.run(["perf", "script", "-i", f"{work}/perf.data", "-F", "tid,comm,ip,sym,dso"],
                        capture_output=True, text=True).stdout
threads = collections.Counter(); names = {}; self_sym = collections.defaultdict(collections.Counter)
inclusive = collections.Counter(); total = 0; objects = collections.Counter()
for block in script.split("\n\n"):
    lines = [l for l in block.strip().split("\n") if l.strip()]
    if not lines: continue
    head = lines[0].split()
    # perf prints "comm tid"; threads that inherited their creator's name share a comm, so group by tid.
    tid, comm = head[-1].rstrip(":"), " ".join(head[:-1])
    frames = []
    for line in lines[1:]:
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            frames.append(m.group(1).split("+0x")[0])
            if len(frames) == 1: objects["kernel" if "kernel" in m.group(2) else m.group(2).rsplit("/", 1)[-1]] += 1
    if not frames: continue
    total += 1; threads[tid] += 1; names[tid] = comm
    self_sym[tid][frames[0]] += 1
    for frame in set(frames):
        inclusive[frame] += 1

def short(symbol):
    demangled = subprocess.run(["swift", "demangle", "--simplified", "--compact", symbol], capture_output=True, text=True).stdout.strip()
    return (demangled or symbol)[:120]

print(f"Samples: {total} (cpu-clock, 999 Hz, 4 s). By thread, with its top self-time symbols:")
for tid, count in threads.most_common(6):
    print(f"- thread {tid} ({names[tid]}): {100 * count / total:.0f}% — " + "; ".join(
        f"{short(s)} {100 * c / count:.0f}%" for s, c in self_sym[tid].most_common(5)))
print()
print("Self time by object (the kernel, the Swift runtime, libc's malloc and free, SQLite, protobuf-c, Leasehold):")
for name, count in objects.most_common(8):
    print(f"  {100 * count / total:5.1f}%  {name}")
print()
print("Largest inclusive costs (share of all server samples that have the frame on the stack):")
interesting = [(s, c) for s, c in inclusive.most_common(400)
               if any(k in s for k in ("Leasehold", "NIO", "sqlite3_step", "swift_task", "malloc", "free", "swift_retain", "swift_release", "sys_", "tcp_", "futex", "protobuf"))]
for symbol, count in interesting[:30]:
    print(f"  {100 * count / total:5.1f}%  {short(symbol)}")

# Who calls malloc: each sampled malloc is charged to the first Leasehold frame on its stack (else the first NIO
# frame, else the first frame outside the allocator and the Swift runtime).
script = subprocess.run(["perf", "script", "-i", f"{work}/malloc.data", "-F", "ip,sym,dso"],
                        capture_output=True, text=True).stdout
callers = collections.Counter(); mallocs = 0
runtime = ("malloc", "swift_slowAlloc", "swift_allocObject", "swift_allocBox", "swift_task_alloc", "operator new",
           "swift::", "_swift_", "swift_")
for block in script.split("\n\n"):
    frames = []
    for line in block.strip().split("\n"):
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m: frames.append(m.group(1).split("+0x")[0])
    if not frames: continue
    mallocs += 1
    pick = next((f for f in frames if "Leasehold" in f), None) or next((f for f in frames if "NIO" in f), None) \
        or next((f for f in frames if not f.startswith(runtime) and f != "[unknown]"), frames[-1])
    callers[pick] += 1
if mallocs:
    print()
    print(f"malloc calls by the code that made them ({mallocs} sampled in 1 s):")
    for symbol, count in callers.most_common(20):
        print(f"  {100 * count / mallocs:5.1f}%  {short(symbol)}")
EOF
echo
echo "The workload's own report (perf slowed parts of it):"
cat "$work/bench.txt"
