# shellcheck shell=bash disable=SC2154 # `leasehold` (the server binary) and `log` are the caller's
# A throwaway PostgreSQL cluster and two `leasehold serve` nodes on it, for bench/run.sh and bench/failover.sh.
# Source it (after `set -euo pipefail`, with `log` defined and `leasehold` set to the server binary); nothing runs
# until a function is called. Every process it starts is stopped by its PID (the nodes) or by pg_ctl (PostgreSQL,
# through its postmaster.pid): call pg_cleanup from the caller's EXIT trap.
#
#   pg_start DIR                # initdb + pg_ctl in DIR (created; owned by `nobody` when run as root), free port
#   url=$(pg_database NAME)     # a new, empty database: its postgres:// URL
#   pg_pid                      # the postmaster's PID (for leasehold-bench --store-pid)
#   nodes_start URL LEASE       # nodes a and b on free loopback ports; returns once a is active and b points at it
#   nodes_stop                  # SIGTERM both (SIGKILL after 10 s)
#   node_start NAME URL LEASE / node_kill NAME / node_role NAME / node_address NAME / nodes_servers
#   pg_cleanup                  # the nodes, then PostgreSQL, then DIR (KEEP=1 keeps DIR)
#
# The cluster runs with PostgreSQL's defaults for durability (fsync on, synchronous_commit on) and no replica.

pg_bin=""
pg_dir=""
pg_port=""
declare -A node_pid=() node_port=()

# A free TCP port on 127.0.0.1 (the kernel's choice; a race with another process binding it is possible but rare).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_until SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds (0) or SECONDS pass (1).
wait_until() {
    local limit=$(( $1 * 20 )); shift
    for _ in $(seq 1 "$limit"); do "$@" && return 0; sleep 0.05; done
    return 1
}

# PostgreSQL refuses to run as root: its programs run as `nobody` then.
pg_as_owner() { if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi; }

pg_version() { "$pg_bin/postgres" --version | awk '{print $3}'; }

pg_start() {  # pg_start DIR
    pg_bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
    [[ -n $pg_bin && -x $pg_bin/initdb ]] || { echo "PostgreSQL is not installed: run scripts/install-deps.sh" >&2; return 1; }
    pg_dir=$1
    mkdir -p "$pg_dir"
    [[ $(id -u) == 0 ]] && chown nobody "$pg_dir"
    pg_port=$(free_port)
    pg_as_owner "$pg_bin/initdb" -D "$pg_dir/pg" -U leasehold --auth=trust -E UTF8 --locale=C --no-instructions \
        >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; return 1; }
    pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/pg" -l "$pg_dir/pg/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=300" start >/dev/null
    log "PostgreSQL $(pg_version) on 127.0.0.1:$pg_port in $pg_dir (fsync on, synchronous_commit on, no replica)"
}

# The postmaster's PID: its backends are its children.
pg_pid() { head -1 "$pg_dir/pg/postmaster.pid"; }

pg_stop() {
    [[ -n $pg_dir && -f $pg_dir/pg/postmaster.pid ]] || return 0
    pg_as_owner "$pg_bin/pg_ctl" -D "$pg_dir/pg" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

pg_database() {  # pg_database NAME: creates it, prints its URL
    "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U leasehold "$1"
    echo "postgres://leasehold@127.0.0.1:$pg_port/$1"
}

pg_drop_database() { "$pg_bin/dropdb" -h 127.0.0.1 -p "$pg_port" -U leasehold --if-exists "$1"; }

# MARK: Nodes

node_address() { echo "127.0.0.1:${node_port[$1]}"; }
nodes_servers() { echo "$(node_address a),$(node_address b)"; }

node_start() {  # node_start NAME URL LEASE [more `leasehold serve` flags]: appends to $pg_dir/NAME.log
    local name=$1 url=$2 lease=$3; shift 3
    [[ -n ${node_port[$name]:-} ]] || node_port[$name]=$(free_port)
    local address
    address=$(node_address "$name")
    # --data only so that no node ever opens a ./leasehold.db by mistake: the store is PostgreSQL.
    "$leasehold" serve --listen "$address" --advertise "$address" --store "$url" --leader-lease "$lease" \
        --data "$pg_dir/$name.db" --log-level info "$@" 2>>"$pg_dir/$name.log" &
    node_pid[$name]=$!
}

# A node's role is the last one its log announced since its last start (node_start after node_kill marks the log).
node_role() {
    awk '/^restarted$/ { r = "" } /\[LeaseholdServer\] active$/ { r = "active" }
        /\[LeaseholdServer\] standby/ { r = "standby" } END { print r }' "$pg_dir/$1.log"
}
node_is_active() { [[ $(node_role "$1") == active ]]; }
node_is_standby() { [[ $(node_role "$1") == standby ]]; }
# A standby that knows the active node sends clients there: a command given only its address succeeds.
node_knows_leader() { "$leasehold" list --server "$(node_address "$1")" --failover-timeout 0s >/dev/null 2>&1; }
node_alive() { kill -0 "${node_pid[$1]}" 2>/dev/null; }

node_kill() {  # node_kill NAME: SIGKILL, reaped; its log is marked so that its old role lines no longer count
    kill -KILL "${node_pid[$1]}" 2>/dev/null || true
    wait "${node_pid[$1]}" 2>/dev/null || true
    echo "restarted" >>"$pg_dir/$1.log"
    node_pid[$1]=""
}

node_stop() {  # node_stop NAME: SIGTERM, SIGKILL after 10 s
    local pid=${node_pid[$1]:-}
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "restarted" >>"$pg_dir/$1.log"
    node_pid[$1]=""
}

nodes_start() {  # nodes_start URL LEASE [flags]: a, then b; returns once a is active and b points clients at it
    local url=$1 lease=$2; shift 2
    node_start a "$url" "$lease" "$@"
    wait_until 30 node_is_active a || { tail -20 "$pg_dir/a.log" >&2; log "node a did not become active"; return 1; }
    node_start b "$url" "$lease" "$@"
    wait_until 30 node_knows_leader b || { tail -20 "$pg_dir/b.log" >&2; log "node b did not name the active"; return 1; }
}

nodes_stop() { node_stop a; node_stop b; }

pg_cleanup() {
    local name
    for name in "${!node_pid[@]}"; do
        if [[ -n ${node_pid[$name]} ]]; then kill -KILL "${node_pid[$name]}" 2>/dev/null || true; fi
    done
    pg_stop
    if [[ -n $pg_dir ]]; then
        if [[ ${KEEP:-0} == 1 ]]; then log "kept $pg_dir"; else rm -rf "$pg_dir"; fi
    fi
}
