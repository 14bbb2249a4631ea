#!/usr/bin/env python3
"""The table of bench/compare-redis.sh: Leasehold ÷ Redis per workload, from the JSON results of one run.

usage: compare-redis-summary.py RESULTS-DIR ROUNDS LABEL WORKLOAD...

Reads RESULTS-DIR/r<round>-<workload>-{LABEL,redis}.json (LABEL: the Leasehold build, `leasehold` by default) (written by `leasehold-bench --output`). For each
workload it prints the median and range over the rounds of each server's rate, server CPU per operation,
load-generator CPU per operation and acquire p99 (and hand-off p99 for the contended workloads), and the median and
range of the per-round ratio Leasehold ÷ Redis: a round's two measurements ran back to back, so their ratio is the
figure least moved by the machine's changing speed.
"""

import json
import statistics
import sys
from pathlib import Path

RATE = {"uncontended": ("pairsPerSecond", "serverCPUMicrosPerPair", "pair")}
CONTENDED = ("grantsPerSecond", "serverCPUMicrosPerGrant", "grant")


def load(directory, round_, workload, server):
    path = Path(directory) / f"r{round_}-{workload}-{server}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def span(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    median = statistics.median(values)
    if len(values) == 1:
        return fmt(median)
    return f"{fmt(median)} ({fmt(min(values))}–{fmt(max(values))})"


def main():
    directory, rounds, label, workloads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    header = (
        "| workload | Leasehold /s | Redis /s | **Leasehold ÷ Redis** | server CPU per op, Leasehold / Redis "
        "| generator CPU per op, Leasehold / Redis | acquire p99, Leasehold / Redis | hand-off p99, Leasehold / Redis |"
    )
    print(header)
    print("|" + "---|" * 8)
    loads = []
    for workload in workloads:
        rate_key, cpu_key, op = RATE.get(workload, CONTENDED)
        figures = {"leasehold": [], "redis": []}
        ratios = []
        cpu_ratios = []
        for round_ in range(1, rounds + 1):
            pair = {}
            for server in ("leasehold", "redis"):
                report = load(directory, round_, workload, label if server == "leasehold" else server)
                if report is None:
                    continue
                rate = report["figures"].get(rate_key, 0)
                resources = report.get("resources") or {}
                generator = resources.get("loadGeneratorCPUPercentOfOneCore")
                entry = {
                    "rate": rate,
                    "cpu": report["figures"].get(cpu_key),
                    "generator": generator / 100 * 1e6 / rate if generator and rate else None,
                    "p99": report["latencies"].get("acquire", {}).get("p99Micros"),
                    "handoff": report["latencies"].get("handOff", {}).get("p99Micros"),
                }
                figures[server].append(entry)
                pair[server] = entry
                loads.append(
                    f"r{round_} {workload} {label if server == 'leasehold' else server}: load {resources.get('loadAverageAtStart', '?')}, "
                    f"other processes {resources.get('otherCPUPercentOfOneCore', '?')}% of a core"
                )
            if len(pair) == 2 and pair["redis"]["rate"]:
                ratios.append(pair["leasehold"]["rate"] / pair["redis"]["rate"])
                if pair["leasehold"]["cpu"] and pair["redis"]["cpu"]:
                    cpu_ratios.append(pair["leasehold"]["cpu"] / pair["redis"]["cpu"])

        def col(server, name, fmt):
            return span([e[name] for e in figures[server]], fmt)

        count = lambda v: f"{v:,.0f}"
        micros = lambda v: f"{v:.1f} µs"
        ratio = lambda v: f"{v:.2f}×"
        ms = lambda v: f"{v / 1000:.2f} ms"
        handoff = "–" if workload == "uncontended" else f"{col('leasehold', 'handoff', ms)} / {col('redis', 'handoff', ms)}"
        print(
            f"| {workload} | {col('leasehold', 'rate', count)} | {col('redis', 'rate', count)} "
            f"| **{span(ratios, ratio)}** | {col('leasehold', 'cpu', micros)} / {col('redis', 'cpu', micros)} per {op} "
            f"(ratio {span(cpu_ratios, ratio)}) "
            f"| {col('leasehold', 'generator', micros)} / {col('redis', 'generator', micros)} "
            f"| {col('leasehold', 'p99', ms)} / {col('redis', 'p99', ms)} | {handoff} |"
        )
    print()
    print(
        "Medians over the rounds, ranges in parentheses; the ratios are taken per round (the two servers of a round ran "
        "back to back), then their median. CPU per operation: the server's utime + stime from /proc/<pid>/stat over "
        "the measured window, divided by the operations in it (a pair is two calls; a grant is one acquire that "
        "succeeded plus its release, and for Redis also every SET that found the key held before it)."
    )
    print()
    print(
        "Redis here is neither fair nor fenced: it has no FIFO queue (a waiting client retries after a delay, so the "
        "next holder is whoever retries first after the release, and a waiter can starve) and no fencing token (a "
        "holder whose lock expired cannot be told apart from the current one by the resource it writes to). Leasehold "
        "grants in FIFO order with a strictly increasing fencing token per grant, each durable before it is answered."
    )
    print()
    print("Load during each measurement (1-, 5- and 15-minute load averages at the window's start):")
    for line in loads:
        print(f"- {line}")


if __name__ == "__main__":
    main()
