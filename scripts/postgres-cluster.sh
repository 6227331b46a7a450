#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests (issue 10): nothing under /etc or /var/lib.
#
#   scripts/postgres-cluster.sh start DIR [PORT]   initdb into DIR, start, print the URL
#   scripts/postgres-cluster.sh stop DIR           stop at once and remove DIR
#   scripts/postgres-cluster.sh halt DIR           stop, keep DIR (restart with `start DIR`)
#
# Runs as root: the server runs as the `postgres` user (runuser). Trust authentication on
# 127.0.0.1 only. The port is chosen free unless given, and kept in DIR/port so a restart
# after `halt` comes back on the same one. Installs Debian's postgresql-15 if missing.
#
# fsync is off by default: tests need no crash safety from the machine and run faster.
# APIKEYS_PG_FSYNC=on starts the cluster durable, as a deployment runs it: scripts/bench.sh
# does, so that every commit it measures pays for its WAL flush.
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || { echo "usage: $0 start|stop|halt DIR [PORT]" >&2; exit 2; }

as_postgres() { runuser -u postgres -- "$@"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
    if [[ ! -x "$BIN/initdb" ]]; then
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
    fi
    mkdir -p "$dir"
    chown postgres: "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        as_postgres "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    fsync=${APIKEYS_PG_FSYNC:-off}
    [[ "$fsync" == on || "$fsync" == off ]] || { echo "APIKEYS_PG_FSYNC must be on or off, not $fsync" >&2; exit 2; }
    port=${3:-$(cat "$dir/port" 2>/dev/null || free_port)}
    echo "$port" >"$dir/port"
    as_postgres "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=$fsync" start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
halt)
    as_postgres "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        as_postgres "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|halt DIR [PORT]" >&2
    exit 2
    ;;
esac
