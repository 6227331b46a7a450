#!/usr/bin/env bash
# The README quickstart as an executable test: a fresh server, then a tenant admin, a
# developer and a service going through the life of one API key with the `apikeys` tool.
#
#   scripts/quickstart.sh .build/debug
#
# Each step says what it does; the first mismatch prints what was expected and what came
# back, and exits 1. The server is always stopped. Needs bash and python3 (for JSON).
set -uo pipefail

BIN=${1:-.build/debug}
APIKEYSD="$BIN/apikeysd"
APIKEYS="$BIN/apikeys"
for tool in "$APIKEYSD" "$APIKEYS"; do
  [ -x "$tool" ] || { echo "quickstart: $tool is missing: build first (swift build)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "quickstart: python3 is needed to read JSON" >&2; exit 1; }

# A developer's own settings must not leak into the test.
unset APIKEYS_SERVER APIKEYS_OPERATOR_CREDENTIAL APIKEYS_SERVICE_CREDENTIAL APIKEYS_TENANT APIKEYS_USER APIKEYS_API_KEY

work=$(mktemp -d "${TMPDIR:-/tmp}/apikeys-quickstart.XXXXXX")
server_pid=""
passed=0

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    # Graceful shutdown first; a server that hangs is killed after 10 s.
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $1" >&2
  shift
  for line in "$@"; do echo "  $line" >&2; done
  if [ -s "$work/server.log" ]; then
    echo "  --- last lines of the server's output ---" >&2
    # The operator credential is masked: test logs are no place for a credential.
    tail -n 15 "$work/server.log" | sed -e 's/^operator credential: .*/operator credential: <hidden>/' -e 's/^/  | /' >&2
  fi
  echo "quickstart: $passed passed, 1 failed"
  exit 1
}

step() { echo "== $*"; }
ok() { passed=$((passed + 1)); echo "   ok: $*"; }

# Runs the CLI; stdout in $work/out, stderr in $work/err, exit code in $rc. Stdin is
# /dev/null, so revoke and delete never wait at a prompt, even when run from a terminal.
rc=0
cli() {
  "$APIKEYS" --server "$address" "$@" </dev/null >"$work/out" 2>"$work/err"
  rc=$?
}
# The same, acting for a user of tenant acme through the console service credential.
cli_as() {
  local user=$1
  shift
  APIKEYS_TENANT=acme APIKEYS_USER=$user cli "$@"
}
# The same, with the operator credential (from the environment, so it is never echoed).
cli_operator() {
  APIKEYS_OPERATOR_CREDENTIAL=$operator_credential cli "$@"
}

expect_rc() {
  local want=$1 what=$2
  [ "$rc" = "$want" ] || fail "$what" "expected exit code $want, got $rc" "stdout: $(head -c 2000 "$work/out")" "stderr: $(head -c 2000 "$work/err")"
}

# json PATH: a value from the last command's JSON output, e.g. `json key.id`, `json keys.0.name`.
# Lists print as JSON, so tests can look for an element with grep or a contains check.
json() {
  python3 - "$work/out" "$1" <<'PY'
import json, sys
try:
    value = json.load(open(sys.argv[1]))
except Exception as error:
    print(f"<not JSON: {error}>")
    sys.exit(0)
for part in filter(None, sys.argv[2].split(".")):
    if isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
        value = value[int(part)]
    elif isinstance(value, dict) and part in value:
        value = value[part]
    else:
        print("<missing>")
        sys.exit(0)
if isinstance(value, bool):
    print("true" if value else "false")
elif isinstance(value, (list, dict)):
    print(json.dumps(value, sort_keys=True))
elif value is None:
    print("null")
else:
    print(value)
PY
}

expect_json() {
  local path=$1 want=$2 what=$3 got
  got=$(json "$path")
  [ "$got" = "$want" ] || fail "$what" "expected $path = $want" "got      $path = $got"
  ok "$what"
}

expect_json_contains() {
  local path=$1 want=$2 what=$3 got
  got=$(json "$path")
  python3 -c 'import json, sys; sys.exit(0 if sys.argv[2] in json.loads(sys.argv[1]) else 1)' "$got" "$want" 2>/dev/null ||
    fail "$what" "expected $path to contain $want" "got $path = $got"
  ok "$what"
}

# --- the tool alone: parsing and errors need no server --------------------------------------
step "apikeys --help; usage errors exit 64; a failed connection exits 69 and names the address"
if ! "$APIKEYS" --help >"$work/out" 2>&1 || ! grep -q "keys" "$work/out"; then
  fail "apikeys --help" "expected exit 0 and the command list" "got: $(head -n 5 "$work/out")"
fi
ok "--help lists the commands"
APIKEYS_API_KEY=k "$APIKEYS" keys generate --name x --expires-in 5x >"$work/out" 2>&1
rc=$?
expect_rc 64 "an invalid DURATION"
grep -q "90m, 12h, 30d" "$work/out" || fail "an invalid DURATION" "expected the accepted forms in the message" "got: $(cat "$work/out")"
ok "an invalid DURATION is a usage error that shows the accepted forms"
"$APIKEYS" keys list >"$work/out" 2>&1
rc=$?
expect_rc 64 "keys list without a credential"
ok "a missing credential is a usage error"
APIKEYS_SERVICE_CREDENTIAL=do-not-print-me "$APIKEYS" --server 127.0.0.1:1 --tenant acme --user bob keys list >"$work/out" 2>&1
rc=$?
expect_rc 69 "a refused connection"
grep -q "^error: UNAVAILABLE: cannot connect to 127.0.0.1:1" "$work/out" ||
  fail "a refused connection" "expected 'error: UNAVAILABLE: cannot connect to 127.0.0.1:1...'" "got: $(cat "$work/out")"
! grep -q "do-not-print-me" "$work/out" || fail "a refused connection" "expected no credential in the output" "got it"
ok "a refused connection says which address it tried, and no credential"

# --- the server ----------------------------------------------------------------------------
step "start apikeysd on a free port with an empty data directory"
"$APIKEYSD" --port 0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
address=""
for _ in $(seq 300); do
  address=$(sed -n 's/^apikeysd listening on \([^ ]*\)$/\1/p' "$work/server.log" | head -n 1)
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "apikeysd exited before listening"
  sleep 0.1
done
[ -n "$address" ] || fail "apikeysd did not print 'apikeysd listening on HOST:PORT' within 30 s"
ok "listening on $address"

step "apikeys health"
cli --json health
expect_rc 0 "health"
expect_json status serving "the server is serving"

# The operator credential is printed once, on first start with an empty data directory.
operator_credential=""
for _ in $(seq 100); do
  operator_credential=$(sed -n 's/^operator credential: \(.*\)$/\1/p' "$work/server.log" | head -n 1)
  [ -n "$operator_credential" ] && break
  sleep 0.1
done
[ -n "$operator_credential" ] || fail "apikeysd's first start" "expected a line 'operator credential: <secret>' on its stdout" "got none within 10 s"
ok "apikeysd printed the operator credential"

# --- provisioning (operator) -----------------------------------------------------------------
step "operator: apikeys tenants create acme --name 'Acme Corp' --admin alice"
cli_operator --json tenants create acme --name "Acme Corp" --admin alice
expect_rc 0 "tenants create"
expect_json tenant.id acme "tenant acme created"
expect_json admin.userId alice "alice created with it"
expect_json_contains admin.roles TenantAdmin "alice is a tenant admin"
expect_json admin.licensed true "alice has a license"

step "operator: apikeys credentials create console --scope act"
cli_operator --json credentials create console --scope act
expect_rc 0 "credentials create"
expect_json name console "service credential console created"
expect_json scope act "it acts for users (X18)"
console_secret=$(json secret)
case "$console_secret" in "" | "<missing>") fail "credentials create" "expected a secret" "got none" ;; esac
ok "its secret was returned once"
export APIKEYS_SERVICE_CREDENTIAL=$console_secret

# --- the tenant admin sets up (console acting for alice) -------------------------------------
step "alice: apikeys settings update --enabled true (R2, R14)"
cli_as alice --json settings update --enabled true
expect_rc 0 "settings update"
expect_json apiKeysEnabled true "API keys are enabled in acme"

step "alice: apikeys users assign-role alice developer (R5: to herself)"
cli_as alice --json users assign-role alice developer
expect_rc 0 "assign-role alice"
expect_json_contains roles Developer "alice is a developer"

step "alice: apikeys users license alice on"
cli_as alice --json users license alice on
expect_rc 0 "license alice"
expect_json licensed true "alice is licensed"

step "operator: apikeys users create bob --tenant acme --name Bob"
cli_operator --json users create bob --tenant acme --name Bob
expect_rc 0 "users create bob"
expect_json userId bob "bob created"

step "alice: apikeys users assign-role bob developer; apikeys users license bob on"
cli_as alice --json users assign-role bob developer
expect_rc 0 "assign-role bob"
expect_json_contains roles Developer "bob is a developer"
cli_as alice --json users license bob on
expect_rc 0 "license bob"
expect_json licensed true "bob is licensed"

# --- the developer generates a key (console acting for bob) ----------------------------------
step "bob: apikeys keys generate --name ci-pipeline --expires-in 12h (R17, R18)"
cli_as bob --json keys generate --name ci-pipeline --expires-in 12h
expect_rc 0 "keys generate"
expect_json key.name ci-pipeline "the key is named ci-pipeline"
expect_json key.ownerId bob "bob owns it"
expect_json key.status active "it is active"
key_id=$(json key.id)
key_secret=$(json secret)
case "$key_secret" in "" | "<missing>") fail "keys generate" "expected the secret" "got none" ;; esac
ok "the secret was shown once (key $key_id)"

step "service: apikeys verify - (the secret on stdin; service credential alone, X8)"
"$APIKEYS" --server "$address" --json verify - <<<"$key_secret" >"$work/out" 2>"$work/err"
rc=$?
expect_rc 0 "verify"
expect_json tenantId acme "the principal's tenant is acme"
expect_json userId bob "the principal's user is bob"
expect_json keyId "$key_id" "the principal's key is $key_id"

step "bob: apikeys keys list --search pipe (R6, R7)"
cli_as bob --json keys list --search pipe
expect_rc 0 "keys list"
expect_json keys.0.id "$key_id" "the search finds the key"
cli_as bob keys list --search pipe
expect_rc 0 "keys list (table)"
grep -q '^NAME  *ID  *OWNER  *LAST UPDATED  *CREATED  *EXPIRES  *STATUS$' "$work/out" ||
  fail "keys list table" "expected the R6 header" "got: $(head -n 1 "$work/out")"
grep -q "^ci-pipeline  .*$key_id  *bob  .*Active$" "$work/out" ||
  fail "keys list table" "expected a row for ci-pipeline, $key_id, bob, Active" "got: $(cat "$work/out")"
ok "the table shows ci-pipeline, owned by bob, Active"

# --- the admin revokes it ---------------------------------------------------------------------
step "alice: apikeys keys revoke $key_id --reason 'quickstart' --yes (R10; --yes: no terminal to ask)"
cli_as alice --json keys revoke "$key_id" --reason quickstart
expect_rc 64 "keys revoke without --yes, stdin not a terminal"
expect_json error.code USAGE "the refusal is one JSON error (--json); the revoke below shows nothing was revoked"
cli_as alice --json keys revoke "$key_id" --reason quickstart --yes
expect_rc 0 "keys revoke"
expect_json status revoked "the key is revoked"

step "service: apikeys verify - (a revoked key no longer authenticates, R12)"
"$APIKEYS" --server "$address" --json verify - <<<"$key_secret" >"$work/out" 2>"$work/err"
rc=$?
expect_rc 4 "verify of a revoked key (exit 4: unauthenticated)"
expect_json error.code UNAUTHENTICATED "verify fails with UNAUTHENTICATED"
expect_json error.reason revoked "the reason is revoked"
[ ! -s "$work/err" ] || fail "verify --json" "expected nothing on stderr with --json" "got: $(cat "$work/err")"
ok "with --json the error is only the JSON object"
"$APIKEYS" --server "$address" verify - <<<"$key_secret" >"$work/out" 2>"$work/err"
rc=$?
expect_rc 4 "verify of a revoked key, as text"
grep -q '^error: UNAUTHENTICATED: .*reason revoked' "$work/err" ||
  fail "verify error line" "expected 'error: UNAUTHENTICATED: ... reason revoked]' on stderr" "got: $(cat "$work/err")"
[ ! -s "$work/out" ] || fail "verify error" "expected nothing on stdout" "got: $(cat "$work/out")"
ok "stderr says why, in one line"

# --- the admin reviews the events ----------------------------------------------------------------
step "alice: apikeys events list (R9, X10)"
cli_as alice --json events list --page-size 100
expect_rc 0 "events list"
actions=$(python3 -c 'import json, sys; print(json.dumps([e["action"] for e in json.load(open(sys.argv[1]))["events"]]))' "$work/out" 2>/dev/null)
for action in key.generated key.revoked; do
  python3 -c 'import json, sys; sys.exit(0 if sys.argv[2] in json.loads(sys.argv[1]) else 1)' "${actions:-[]}" "$action" ||
    fail "events list" "expected an event $action" "got actions: ${actions:-none}"
  ok "an event $action is listed"
done
if grep -qF "$key_secret" "$work/out"; then
  fail "events list" "expected no secret in events (X10)" "got the key's secret in the output"
fi
ok "no event holds the secret"

stop_server
echo "quickstart: $passed passed, 0 failed"
