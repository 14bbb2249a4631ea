#!/usr/bin/env python3
"""Medians and spread of the A/B rounds: bench/results/<date>-metrics-cost/round<N>-<build>/<date>-<workload>-full.json."""
import glob, json, os, re, statistics, sys

root = sys.argv[1]
spec = {  # workload file stem: (rate figure, CPU figure, latency name)
    "uncontended": ("pairsPerSecond", "serverCPUMicrosPerPair", "acquire"),
    "contended-k1": ("grantsPerSecond", "serverCPUMicrosPerGrant", "handOff"),
    "ping-8conns": ("callsPerSecond", "serverCPUMicrosPerCall", "keepAlive"),
}
rows = {}
for path in sorted(glob.glob(os.path.join(root, "round*-*", "*-full.json"))):
    m = re.search(r"round(\d+)-(before|after)/\d{4}-\d\d-\d\d-(.+)-full\.json$", path)
    if not m or m.group(3) not in spec:
        continue
    round_, build, workload = int(m.group(1)), m.group(2), m.group(3)
    d = json.load(open(path))
    rate, cpu, lat = spec[workload]
    l = d["latencies"][lat]
    rows.setdefault(workload, {}).setdefault(build, []).append(
        (round_, d["figures"][rate], d["figures"][cpu], l["p50Micros"], l["p99Micros"], d["resources"]["loadAverageAtStart"])
    )

def fmt(values, digits=0):
    med = statistics.median(values)
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"

print("| workload | build | rounds | rate/s median (min–max) | server CPU µs/op | p50 µs | p99 µs |")
print("|---|---|---|---|---|---|---|")
for workload, builds in rows.items():
    for build in ("before", "after"):
        r = builds.get(build, [])
        if not r:
            continue
        print(f"| {workload} | {build} | {len(r)} | {fmt([x[1] for x in r])} | {fmt([x[2] for x in r], 1)} | "
              f"{fmt([x[3] for x in r])} | {fmt([x[4] for x in r])} |")
print()
print("Ratios after/before, round by round (same round, adjacent runs):")
print()
print("| workload | rate ratio per round | median | CPU/op ratio per round | median |")
print("|---|---|---|---|---|")
for workload, builds in rows.items():
    before = {x[0]: x for x in builds.get("before", [])}
    after = {x[0]: x for x in builds.get("after", [])}
    common = sorted(set(before) & set(after))
    if not common:
        continue
    rr = [after[k][1] / before[k][1] for k in common]
    cr = [after[k][2] / before[k][2] for k in common]
    print(f"| {workload} | {' '.join(f'{x:.2f}' for x in rr)} | {statistics.median(rr):.2f} | "
          f"{' '.join(f'{x:.2f}' for x in cr)} | {statistics.median(cr):.2f} |")
print()
print("Load average (1, 5, 15 min) at the start of each run:")
print()
for workload, builds in rows.items():
    for build, r in builds.items():
        print(f"- {workload} {build}: " + "; ".join(f"r{x[0]} {x[5]}" for x in sorted(r)))
