#!/usr/bin/env bash
# The same A/B as ../ab.sh, ping over 8 connections only, on the machine once the other builds had stopped.
set -euo pipefail
out=${OUT:?}
rounds=${ROUNDS:-4}
for round in $(seq 1 "$rounds"); do
    if (( round % 2 )); then order="before after"; else order="after before"; fi
    for build in $order; do
        echo "[ab $(date +%T)] round $round $build; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        BUILD=0 LEASEHOLD=/tmp/lh-bin/leasehold-$build BENCH=/tmp/lh-bin/leasehold-bench \
            SYNC_MODES=full WORKLOADS="ping-8conns" QUICK=${QUICK:-1} \
            SERVER_ARGS="--metrics-listen 127.0.0.1:0" RESULTS="$out/round$round-$build" \
            /work/main/bench/run.sh >"$out/round$round-$build.log" 2>&1
    done
done
