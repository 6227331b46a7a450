#!/usr/bin/env bash
# Runs a command with APIKEYS_TEST_POSTGRES naming a throwaway PostgreSQL 15 cluster, started
# here and stopped (its directory removed) when the command ends, however it ends. With
# APIKEYS_TEST_POSTGRES already set, runs the command against that database instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${APIKEYS_TEST_POSTGRES:-}" ]; then
  exec "$@"
fi
cluster=$(mktemp -d /tmp/apikeys-pg.XXXXXX)
stop() { scripts/postgres-cluster.sh stop "$cluster" >/dev/null 2>&1 || true; }
trap stop EXIT
trap 'exit 130' INT TERM
if ! url=$(scripts/postgres-cluster.sh start "$cluster" | tail -n 1); then
  echo "with-postgres: FAILED: could not start a PostgreSQL cluster in $cluster (see above)" >&2
  exit 1
fi
echo "with-postgres: PostgreSQL for the tests at $url"
APIKEYS_TEST_POSTGRES=$url "$@"
