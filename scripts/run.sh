#!/usr/bin/env bash
# make run: apikeysd on 127.0.0.1:PORT and, beside it, the web console in development mode
# on 127.0.0.1:CONSOLE_PORT, acting through a service credential of scope act that this
# script makes once (a random secret in DATA_DIR-console/, mode 0600, never on a command line).
# Ctrl-C stops both.
set -euo pipefail
bin=$1 data_dir=$2 port=$3 console_port=$4
secrets_dir="$data_dir-console"
mkdir -p "$secrets_dir"
chmod 700 "$secrets_dir"
if [ ! -s "$secrets_dir/console-credential" ]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secrets_dir/console-credential")
fi
(umask 077; printf 'console act %s\n' "$(cat "$secrets_dir/console-credential")" > "$secrets_dir/service-credentials")

[ -x "$bin/apikeys-console" ] || { echo "run: FAILED: $bin/apikeys-console is missing (make build builds it)" >&2; exit 1; }
"$bin/apikeys-console" --dev --host 127.0.0.1 --port "$console_port" --server "127.0.0.1:$port" \
  --service-credential-file "$secrets_dir/console-credential" &
console_pid=$!
trap 'kill "$console_pid" 2>/dev/null || true' EXIT
# A console that cannot start (its port taken) says why above; say so, not its address.
sleep 0.5
kill -0 "$console_pid" 2>/dev/null || { echo "run: FAILED: apikeys-console did not start (see its message above)" >&2; exit 1; }
echo "console: http://127.0.0.1:$console_port (development mode: sign in as any tenant user the operator created)"
"$bin/apikeysd" --host 127.0.0.1 --port "$port" --data-dir "$data_dir" \
  --service-credentials-file "$secrets_dir/service-credentials"
