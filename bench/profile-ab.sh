#!/usr/bin/env bash
# Counts per operation of two or more server builds, interleaved: A/B evidence that the machine's load does not move.
#
#   bench/profile-ab.sh OUT ROUNDS before=/path/to/leasehold after=/path/to/other/leasehold
#   WORKLOADS="uncontended" bench/profile-ab.sh /tmp/ab 5 a=... b=...
#
# Each binary must be named `leasehold` (profile.sh's uprobes are named after it). For each round, each workload and
# each binary in turn, runs `COUNTS=1 bench/profile.sh` (mallocs, syscalls, context switches, event-loop tasks and
# wake-ups per operation, and the server's CPU per operation, which the load does move) into
# OUT/r<round>-<label>-<workload>.txt, then prints
# the medians and ranges per workload and build. WORKLOADS: uncontended, contended-k16, contended-k1, ping
# (default "uncontended contended-k16"); BENCH: the leasehold-bench binary.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: bench/profile-ab.sh OUT ROUNDS label=binary...}
rounds=${2:?usage: bench/profile-ab.sh OUT ROUNDS label=binary...}
shift 2
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
    for spec in "$@"; do
        label=${spec%%=*}
        binary=${spec#*=}
        for workload in ${WORKLOADS:-uncontended contended-k16}; do
            case $workload in
                contended-k16) args=(contended --keys 16) ;;
                contended-k1) args=(contended --keys 1) ;;
                *) args=("$workload") ;;
            esac
            load=$(cut -d' ' -f1-3 /proc/loadavg)
            echo "$(date -u +%T) round $round $label $workload, load $load" | tee -a "$out/log"
            COUNTS=1 LEASEHOLD=$binary "$here/profile.sh" "${args[@]}" >"$out/r$round-$label-$workload.txt" 2>&1 || true
        done
    done
done

python3 - "$out" <<'PY'
import collections, glob, re, statistics, sys
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for path in sorted(glob.glob(f"{sys.argv[1]}/r*-*.txt")):
    m = re.match(r".*/r\d+-(.+?)-(uncontended|contended-k16|contended-k1|ping)\.txt$", path)
    if not m:
        continue
    text = open(path).read()
    for name, pattern in [("mallocs", r"malloc calls per operation: ([\d.]+)"),
                          ("syscalls", r"syscalls per operation: ([\d.]+)"),
                          ("switches", r"context switches per operation: ([\d.]+)"),
                          ("tasks", r"event-loop tasks scheduled per operation: ([\d.]+)"),
                          ("wakeups", r"event-loop wake-ups by other threads per operation: ([\d.]+)"),
                          ("futex", r"syscalls per operation: .*?futex ([\d.]+)"),
                          ("syncs", r"syscalls per operation: .*?fdatasync ([\d.]+)"),
                          ("cpu", r"server CPU per operation: ([\d.]+)")]:
        found = re.search(pattern, text)
        if found:
            rows[(m.group(2), m.group(1))][name].append(float(found.group(1)))

def cell(values):
    if not values:
        return "–"
    digits = 2 if max(values) < 10 else 1
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"

print("| workload | build | mallocs/op | syscalls/op | context switches/op | loop tasks/op | loop wake-ups/op "
      "| futex/op | fdatasync/op | server CPU µs/op |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (workload, label), values in sorted(rows.items()):
    print(f"| {workload} | {label} | {cell(values['mallocs'])} | {cell(values['syscalls'])} | "
          f"{cell(values['switches'])} | {cell(values['tasks'])} | {cell(values['wakeups'])} | "
          f"{cell(values['futex'])} | {cell(values['syncs'])} | {cell(values['cpu'])} |")
PY
