#!/usr/bin/env bash
# A/B of two leasehold builds on one PostgreSQL store: uncontended, 64 clients, alternating rounds.
set -euo pipefail
rounds=${ROUNDS:-3}
bench=/work/main/bench/.build/release/leasehold-bench
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/pgab.XXXXXX); chown nobody "$work"
as() { runuser -u nobody -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_port=$(free_port)
cleanup() { [[ -n ${node:-} ]] && kill -KILL $node 2>/dev/null; as "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as "$pg_bin/initdb" -D "$work/pg" -U leasehold --auth=trust -E UTF8 --locale=C --no-instructions >/dev/null
as "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work -c max_connections=300" start >/dev/null
pg_cpu() { local t=0; for p in $(pgrep -u nobody postgres); do [[ -r /proc/$p/stat ]] && t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
for r in $(seq 1 $rounds); do
  for b in before after; do
    db=ab_${b}_$r
    "$pg_bin/createdb" -h 127.0.0.1 -p $pg_port -U leasehold $db
    port=$(free_port)
    /tmp/ab/leasehold-$b serve --listen 127.0.0.1:$port --advertise 127.0.0.1:$port --store "postgres://leasehold@127.0.0.1:$pg_port/$db" --data "$work/x.db" 2>"$work/$b.log" &
    node=$!
    for i in $(seq 1 200); do grep -q "\] active$" "$work/$b.log" && break; sleep 0.05; done
    c0=$(pg_cpu)
    $bench uncontended --server 127.0.0.1:$port --server-pid $node --clients 64 --duration 8s --warmup 2s --output "$work/$b-$r.json" > "$work/$b-$r.txt" 2>&1
    c1=$(pg_cpu)
    pairs=$(grep -m1 "pairs/s" "$work/$b-$r.txt" | head -1)
    echo "round $r $b: $(grep -E 'pairs/s|server CPU per pair' "$work/$b-$r.txt" | sed 's/  */ /g' | tr '\n' ' ') | postgres CPU ticks over run: $((c1 - c0)) | load $(cut -d' ' -f1 /proc/loadavg)"
    kill -TERM $node; wait $node 2>/dev/null || true; node=
  done
done
