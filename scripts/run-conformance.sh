#!/usr/bin/env bash
# Starts apikeysd with the Conformance service on a free port and runs
# apikeys-conformance against it. Usage: scripts/run-conformance.sh BIN_DIR
set -euo pipefail
bin=${1:-.build/debug}
data=$(mktemp -d)
log=$(mktemp)
"$bin/apikeysd" --host 127.0.0.1 --port 0 --data-dir "$data" --conformance \
  --handshake-timeout 2 --idle-timeout 2 >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$log"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$log" && break
  kill -0 $pid 2>/dev/null || { echo "run-conformance: apikeysd exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
address=$(grep -o 'listening on [0-9.]*:[0-9]*' "$log" | awk '{print $3}')
[ -n "$address" ] || { echo "run-conformance: apikeysd did not start:"; cat "$log"; exit 1; }
"$bin/apikeys-conformance" --server "$address" --silence-timeout 6
