#!/usr/bin/env bash
# A/B of the metrics cost: the same workloads against the server built before metrics (acb4381) and with them
# (506bd73), interleaved round by round, one load generator binary for both.
set -euo pipefail
out=${OUT:?}
rounds=${ROUNDS:-4}
for round in $(seq "${START:-1}" "$rounds"); do
    # Alternate which build goes first, so that a drift in the machine's load does not always favour one.
    if (( round % 2 )); then order="before after"; else order="after before"; fi
    for build in $order; do
        echo "[ab $(date +%T)] round $round $build; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        BUILD=0 LEASEHOLD=${BIN:?}/leasehold-$build BENCH=${BIN:?}/leasehold-bench \
            SYNC_MODES=full WORKLOADS="uncontended contended-k1 ping-8conns" \
            SERVER_ARGS="--metrics-listen 127.0.0.1:0" RESULTS="$out/round$round-$build" \
            "$(dirname "$0")/../../run.sh" >"$out/round$round-$build.log" 2>&1
    done
done
echo "[ab $(date +%T)] done" >&2
