#!/usr/bin/env bash
# `make bench`: builds Benchmarks/ (release), runs every benchmark and prints one table,
# also written to BENCHMARKS.md with the date, the command and the machine.
#
# Environment: BENCH_RUNS (3) runs per load configuration, BENCH_WARMUP (0.5) and
# BENCH_DURATION (2) seconds per run, BENCH_SERVER_CPU (0) and BENCH_CLIENT_CPU (1)
# for taskset, BENCH_ONLY (all) to run some rows only: e.g. "verify echo grpc http codec
# storage postgres callgrind". For the postgres rows (a throwaway durable PostgreSQL 15 cluster, always
# stopped at the end): BENCH_PG_STARTUP_KEYS (1000000) keys for the start-up row,
# BENCH_PROPAGATION_ITERATIONS (300) revokes timed by scripts/measure-propagation.py.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)

runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-0.5}
duration=${BENCH_DURATION:-2}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
only=${BENCH_ONLY:-verify echo grpc http codec storage postgres callgrind}
pg_startup_keys=${BENCH_PG_STARTUP_KEYS:-1000000}
propagation_iterations=${BENCH_PROPAGATION_ITERATIONS:-300}
wants() { [[ " $only " == *" $1 "* ]]; }
say() { echo "bench: $*" >&2; }

# --- what the build and the runs need --------------------------------------------------
debian_packages=(libprotobuf-c-dev libsqlite3-dev pkg-config util-linux procps)
missing=()
for p in "${debian_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || { say "FAILED: installing ${missing[*]} needs root"; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { say "FAILED: no swift on PATH"; exit 1; }
command -v python3 >/dev/null || { say "FAILED: python3 is missing"; exit 1; }
if wants postgres; then
  # scripts/postgres-cluster.sh installs postgresql-15 itself; measure-propagation.py uses the
  # Python client (clients/python/requirements.txt).
  python3 -c "import google.protobuf" 2>/dev/null \
    || { say "FAILED: the postgres rows need Python's protobuf (pip install -r clients/python/requirements.txt)"; exit 1; }
fi
if [ "$(nproc)" -lt 2 ]; then server_cpu=0; client_cpu=0; say "one core only: client and server share it"; fi

work=$(mktemp -d /tmp/apikeys-bench.XXXXXX)
results=$work/results.txt
: > "$results"
pids=()
pg_dir=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$pg_dir" ]; then "$root/scripts/postgres-cluster.sh" stop "$pg_dir" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- PostgreSQL (the postgres rows): a throwaway cluster, durable like a deployment's ----------
# fsync on (the cluster script's default is off, for tests). Its directory is not under $work,
# which only root may enter: the server runs as the postgres user.
if wants postgres; then
  pg_dir=$(mktemp -d /tmp/apikeys-bench-pg.XXXXXX)
  say "starting a durable PostgreSQL 15 cluster in $pg_dir"
  pg_url=$(APIKEYS_PG_FSYNC=on "$root/scripts/postgres-cluster.sh" start "$pg_dir" | tail -1)
  [[ "$pg_url" == postgres://* ]] || { say "FAILED: the PostgreSQL cluster did not start"; exit 1; }
fi
pg_store() { echo "$pg_url?schema=$1"; }  # schema

# --- build, and seed the stores while the rest builds ---------------------------------------
# bench-seed needs only the main package's storage: seeding a million keys (minutes of SQLite
# index work on one core) runs at low priority beside the build of gRPC and Hummingbird.
say "building bench-seed (release)"
t=$(date +%s)
swift build -c release --package-path Benchmarks --product bench-seed 2>&1 | grep -E "error|Build of product" >&2 || true
bin=$(swift build -c release --package-path Benchmarks --show-bin-path)
[ -x "$bin/bench-seed" ] || { say "FAILED: $bin/bench-seed was not built"; exit 1; }
# bench-seed writes the tenant and its users through PostgresKeyStore and the keys as COPY rows;
# they are loaded with api_key's secondary indexes dropped, which are then built again from
# their own definitions (as bench-seed --bulk does for SQLite). Through the store's inserts, a
# million keys took 19 minutes of the run.
seed_pg() {  # schema keys bench-seed-options...
  local schema=$1 n=$2 t0 rows; shift 2
  t0=$(date +%s%N)
  rows=$work/pg-$schema.copy
  "$bin/bench-seed" --store "$(pg_store "$schema")" --data-dir "$work/pg-$schema" --keys "$n" --copy-to "$rows" "$@"
  psql -q -X -v ON_ERROR_STOP=1 "$pg_url" <<SQL
SET search_path = $schema;
CREATE TEMP TABLE saved_index AS SELECT indexname, indexdef FROM pg_indexes
  WHERE schemaname = '$schema' AND tablename = 'api_key' AND indexdef NOT LIKE 'CREATE UNIQUE%';
DO \$\$ DECLARE r record; BEGIN
  FOR r IN SELECT indexname FROM saved_index LOOP EXECUTE format('DROP INDEX %I.%I', '$schema', r.indexname); END LOOP;
END \$\$;
\copy api_key (id, tenant_id, owner_id, name, name_lower, owner_lower, created_at, updated_at, expires_at, revoked_at, revoke_reason, secret_hash, expiry_recorded) FROM '$rows'
SET maintenance_work_mem = '512MB';
DO \$\$ DECLARE r record; BEGIN
  FOR r IN SELECT indexdef FROM saved_index LOOP EXECUTE r.indexdef; END LOOP;
END \$\$;
ANALYZE api_key;
SQL
  rm -f "$rows"
  echo "row=pg-seed schema=$schema keys=$n ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >> "$results"
}
seed_sqlite() {
  set -e
  "$bin/bench-seed" --data-dir "$work/k100k" --keys 100000
  if wants storage; then
    "$bin/bench-seed" --data-dir "$work/k0" --keys 0
    "$bin/bench-seed" --data-dir "$work/k10k" --keys 10000 --tsv 0
    "$bin/bench-seed" --data-dir "$work/k1m" --keys 1000000 --tsv 0
  fi
}
seed_postgres() {
  set -e
  seed_pg k100k 100000
  seed_pg startup "$pg_startup_keys" --tsv 0
}
# The cluster's processes (the postmaster and what it has forked) at another nice value: while
# seeding, PostgreSQL's half of the work yields to the build like bench-seed's own half.
pg_nice() {  # value
  local postmaster
  postmaster=$(head -1 "$pg_dir/data/postmaster.pid" 2>/dev/null) || return 0
  renice -n "$1" -p "$postmaster" $(pgrep -P "$postmaster") >/dev/null 2>&1 || true
}
seeds=() seed_pids=()
seed_started=$(date +%s)
seed_in_background() {  # name function: at nice 10, in parallel with the other seeding
  ( renice -n 10 -p "$BASHPID" >/dev/null 2>&1 || true; "$2" > "$work/seed-$1.log" 2>&1; echo $? > "$work/seed-$1.rc"
    echo $(( $(date +%s) - seed_started )) > "$work/seed-$1.seconds" ) &
  pids+=("$!")
  seed_pids+=("$!")
  seeds+=("$1")
}
say "seeding 100,000 keys (and 10,000 and 1,000,000 for the storage rows; PostgreSQL schemas for the postgres rows) while building the rest"
seed_in_background sqlite seed_sqlite
if wants postgres; then pg_nice 10; seed_in_background postgres seed_postgres; fi
say "building Benchmarks/ and apikeysd (release)"
swift build -c release --package-path Benchmarks 2>&1 | grep -E "error|Build complete" >&2 || true
swift build -c release --package-path Benchmarks --product apikeysd 2>&1 | grep -E "error|Build of product" >&2 || true
for b in apikeysd bench-load bench-echo bench-grpc bench-http bench-codec bench-seed bench-storage bench-server; do
  [ -x "$bin/$b" ] || { say "FAILED: $bin/$b was not built"; exit 1; }
done
build_seconds=$(( $(date +%s) - t ))
say "build took ${build_seconds}s; waiting for the seeding"
seed_seconds=0
for i in "${!seeds[@]}"; do
  name=${seeds[$i]}
  wait "${seed_pids[$i]}" || true
  cat "$work/seed-$name.log" >&2
  [ "$(cat "$work/seed-$name.rc" 2>/dev/null)" = 0 ] || { say "FAILED: seeding the $name stores"; exit 1; }
  seed_seconds=$(( $(cat "$work/seed-$name.seconds") > seed_seconds ? $(cat "$work/seed-$name.seconds") : seed_seconds ))
done
if wants postgres; then
  pg_nice 0
  # Seeding leaves work PostgreSQL would do later, beside the rows: autovacuum and analyze of
  # the million-key tables, and a checkpoint of their WAL (fsync on). Do it now, measured apart.
  t0=$(date +%s)
  runuser -u postgres -- /usr/lib/postgresql/15/bin/vacuumdb --all --analyze --quiet \
      -h "$pg_dir" -p "$(cat "$pg_dir/port")" -U postgres \
    && runuser -u postgres -- psql -q -h "$pg_dir" -p "$(cat "$pg_dir/port")" -U postgres -c CHECKPOINT \
    || { say "FAILED: vacuuming the seeded PostgreSQL database"; exit 1; }
  say "PostgreSQL vacuum, analyze and checkpoint after seeding took $(( $(date +%s) - t0 ))s"
  # The cluster's processes run on the client core, like the load generators: the server core
  # is apikeysd's alone, as with SQLite (backends forked later inherit the postmaster's CPU).
  postmaster=$(head -1 "$pg_dir/data/postmaster.pid")
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do taskset -a -p -c "$client_cpu" "$pid" >/dev/null; done
fi
say "seeding took ${seed_seconds}s beside the build; $(( $(date +%s) - t ))s since the build started"

# Starts a server pinned to the server core; waits until `ready` appears in its output.
start_server() {  # name ready-pattern command...
  local name=$1 ready=$2; shift 2
  taskset -c "$server_cpu" "$@" > "$work/$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 3000); do
    grep -q "$ready" "$work/$name.log" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { say "FAILED: $name exited:"; cat "$work/$name.log" >&2; exit 1; }
    sleep 0.01
  done
  say "FAILED: $name did not start"; exit 1
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}
wait_port() {  # port
  for _ in $(seq 1 3000); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.01; done
  say "FAILED: nothing listens on $1"; exit 1
}

# The load configurations: calls in flight / connections (LOAD_CONFIGS=… load_rows for fewer).
configs="1/1 16/1 16/4 128/1 128/4"
load_rows() {  # row-name load-command...
  local row=$1; shift
  for config in ${LOAD_CONFIGS:-$configs}; do
    local n=${config%/*} c=${config#*/}
    for r in $(seq 1 "$runs"); do
      line=$(taskset -c "$client_cpu" "$@" --connections "$c" --inflight "$n" \
             --warmup "$warmup" --duration "$duration" --server-pid "$server_pid")
      echo "row=$row inflight=$n connections=$c run=$r $line" | tee -a "$results" >&2
    done
  done
}

# --- data ----------------------------------------------------------------------------------
keys=$work/k100k/keys.tsv
credential=$(cat "$work/k100k/service.secret")
# X18: apikeysd reads service credentials from a file, never from its command line.
credentials_file=$work/service-credentials
(umask 077 && printf 'bench act %s\n' "$credential" > "$credentials_file")

# --- 1. Verify over our protocol -----------------------------------------------------------
if wants verify; then
  say "row 1: Verify against apikeysd"
  start_server apikeysd "listening" "$bin/apikeysd" --host 127.0.0.1 --port 7420 --data-dir "$work/k100k" \
    --threads 1 --max-concurrent-calls 256 --service-credentials-file "$credentials_file" --log-level warning
  load_rows verify "$bin/bench-load" --mode rpc --port 7420 --keys "$keys" --credential "$credential"
  echo "row=rss-verify rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)" >> "$results"
  stop_server

  # Issue 11: the cost of the access log. Row 1 runs at --log-level warning, where the access
  # log is off (the server neither builds nor writes the lines); here one logfmt line per call
  # goes to stderr, redirected to a file as a supervisor would.
  say "row 1b: Verify against apikeysd with the access log on"
  start_server apikeysd-access-log "listening" "$bin/apikeysd" --host 127.0.0.1 --port 7424 --data-dir "$work/k100k" \
    --threads 1 --max-concurrent-calls 256 --service-credentials-file "$credentials_file" \
    --log-level info --access-log on --log-format logfmt
  LOAD_CONFIGS="1/1 16/4 128/4" load_rows verify-access-log "$bin/bench-load" --mode rpc --port 7424 --keys "$keys" --credential "$credential"
  stop_server
  log=$work/apikeysd-access-log.log
  echo "row=access-log-file bytes=$(stat -c %s "$log") lines=$(grep -c 'method=' "$log" || true)" | tee -a "$results" >&2
  rm -f "$log"
fi

# --- 2. The limit: echo --------------------------------------------------------------------
if wants echo; then
  say "row 2: the echo limit"
  start_server echo "listening" "$bin/bench-echo" --port 7421 --threads 1
  load_rows echo "$bin/bench-load" --mode rpc --port 7421 --keys "$keys" --credential "$credential"
  stop_server
fi

# --- 3. gRPC peer ----------------------------------------------------------------------------
if wants grpc; then
  say "row 3: the gRPC peer"
  start_server grpc "listening" "$bin/bench-grpc" serve --port 7422 --keys "$keys" --credential "$credential" --threads 1
  load_rows grpc "$bin/bench-grpc" load --port 7422 --keys "$keys" --credential "$credential"
  stop_server
fi

# --- 4. HTTP/JSON peer -----------------------------------------------------------------------
if wants http; then
  say "row 4: the HTTP/JSON peer"
  start_server http "listening" "$bin/bench-http" --port 7423 --keys "$keys" --credential "$credential" --threads 1
  wait_port 7423
  load_rows http "$bin/bench-load" --mode http --port 7423 --keys "$keys" --credential "$credential"
  stop_server
fi

# --- 5. Codec ---------------------------------------------------------------------------------
if wants codec; then
  say "row 5: codec"
  taskset -c "$client_cpu" "$bin/bench-codec" | sed 's/^/row=codec /' | tee -a "$results" >&2
fi

# --- 6. Storage -------------------------------------------------------------------------------
if wants storage; then
  # 1 caller, then 16 at once: group commit (issue 14) shares one commit between them.
  for callers in 1 16; do
    say "row 6: storage: Generate with durable commits, $callers caller(s)"
    rm -rf "$work/gen"
    taskset -c "$server_cpu" "$bin/bench-storage" generate --data-dir "$work/gen" --callers "$callers" --seconds 5 \
      | sed 's/^/row=storage /' | tee -a "$results" >&2
  done
  for n in k10k k100k k1m; do
    say "row 6: storage: List at $n"
    taskset -c "$server_cpu" "$bin/bench-storage" list --data-dir "$work/$n" --iterations 200 \
      | sed "s/^/row=storage keys=$n /" | tee -a "$results" >&2
  done
  # Start-up (to the "listening" line: store opened, index loaded, socket bound) and the
  # resident memory once started, with no load.
  for n in k0 k100k k1m; do
    for r in $(seq 1 "$runs"); do
      t0=$(date +%s%N)
      start_server "apikeysd-$n" "listening" "$bin/apikeysd" --host 127.0.0.1 --port 7430 --data-dir "$work/$n" \
        --threads 1 --service-credentials-file "$credentials_file" --log-level warning
      t1=$(date +%s%N)
      rss=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
      echo "row=startup keys=$n run=$r startup_ms=$(( (t1 - t0) / 1000000 )) rss_kb=$rss" | tee -a "$results" >&2
      stop_server
    done
  done
fi

# --- 7. PostgreSQL (issue 10) -------------------------------------------------------------------
if wants postgres; then
  pg_keys=$work/pg-k100k/keys.tsv
  # 7a. One apikeysd on PostgreSQL: the same server flags and load as row 1. Verify is answered
  # from memory either way; what differs is the store's work beside it (the usage flush, the
  # change-log poll).
  # The database runs at SCHED_IDLE on the client core for the Verify rows, standing in for a
  # machine of its own: it takes in the usage flush (tens of thousands of keys a second) in the
  # load generators' idle time instead of taking that time from them. At normal priority it
  # halved the generators' rate at 16 in flight, which measured this machine's two cores, not
  # apikeysd. The Generate rows (7c) put it back: there the database's work is what is measured.
  pg_policy() {  # chrt policy flag: -i (idle) or -o (normal)
    local postmaster
    postmaster=$(head -1 "$pg_dir/data/postmaster.pid")
    for pid in "$postmaster" $(pgrep -P "$postmaster"); do chrt "$1" -p 0 "$pid" 2>/dev/null || true; done
  }
  pg_policy -i
  say "row 7: Verify against apikeysd on PostgreSQL (100,000 keys)"
  start_server apikeysd-pg "listening" "$bin/apikeysd" --host 127.0.0.1 --port 7440 --store "$(pg_store k100k)" \
    --threads 1 --max-concurrent-calls 256 --service-credentials-file "$credentials_file" --log-level warning
  LOAD_CONFIGS="1/1 16/4 128/4" load_rows verify-pg "$bin/bench-load" --mode rpc --port 7440 --keys "$pg_keys" --credential "$credential"
  echo "row=rss-verify-pg rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)" >> "$results"
  stop_server

  # 7b. Three apikeysd on one database, all pinned to the one server core; three load
  # generators at once (all on the client core), one per server, each with the configuration
  # named: their throughputs add up.
  say "row 7: Verify against three apikeysd on one PostgreSQL database"
  three=()
  for i in 0 1 2; do
    start_server "apikeysd-pg3-$i" "listening" "$bin/apikeysd" --host 127.0.0.1 --port $((7441 + i)) --store "$(pg_store k100k)" \
      --threads 1 --max-concurrent-calls 256 --service-credentials-file "$credentials_file" --log-level warning
    three+=("$server_pid")
  done
  for config in 1/1 16/4 128/4; do
    n=${config%/*} c=${config#*/}
    for r in $(seq 1 "$runs"); do
      loaders=()
      for i in 0 1 2; do
        taskset -c "$client_cpu" "$bin/bench-load" --mode rpc --port $((7441 + i)) --keys "$pg_keys" --credential "$credential" \
          --connections "$c" --inflight "$n" --warmup "$warmup" --duration "$duration" --server-pid "${three[$i]}" \
          > "$work/load-$i.out" &
        loaders+=("$!")
      done
      for i in 0 1 2; do
        wait "${loaders[$i]}" || { say "FAILED: bench-load against server $i"; exit 1; }
        echo "row=verify-pg3 inflight=$n connections=$c run=$r server=$i $(cat "$work/load-$i.out")" | tee -a "$results" >&2
      done
    done
  done
  for pid in "${three[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done

  pg_policy -o
  # 7c. Generate in process (durable commits on both stores): 1 and 16 callers (threads),
  # one service on one store, and three services on three stores sharing one schema; each in
  # a new schema. SQLite at 16 callers for comparison with row 6 (1 caller).
  for servers in 1 3; do
    for callers in 1 16; do
      say "row 7: Generate on PostgreSQL, $servers server(s), $callers caller(s)"
      taskset -c "$server_cpu" "$bin/bench-storage" generate --store "$(pg_store "gen_${servers}_$callers")" \
        --servers "$servers" --callers "$callers" --seconds 5 | sed 's/^/row=pg-generate /' | tee -a "$results" >&2
    done
  done

  # 7d. Propagation (X21): three release apikeysd on one schema of this cluster, started by the
  # script (not pinned); revoke acknowledged on A to the first refused Verify on B and C.
  if [ -f scripts/measure-propagation.py ]; then
    say "row 7: propagation over three apikeysd ($propagation_iterations revokes)"
    APIKEYSD="$bin/apikeysd" APIKEYS_TEST_POSTGRES="$pg_url" \
      python3 scripts/measure-propagation.py --iterations "$propagation_iterations" --json "$work/propagation.json" >&2 \
      || { say "FAILED: scripts/measure-propagation.py"; exit 1; }
    python3 - "$work/propagation.json" >> "$results" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for name, s in report.items():
    if isinstance(s, dict):
        print(f"row=propagation what={name} n={s['n']} p50_ms={s['p50_ms']} p99_ms={s['p99_ms']} max_ms={s['max_ms']} servers={report['servers']}")
PY
  else
    say "row 7: propagation SKIPPED: scripts/measure-propagation.py is not on this branch"
  fi

  # 7e. Start-up from PostgreSQL, like row 6's: to the "listening" line (schema migrated or
  # checked, the index loaded from a snapshot, the socket bound), and VmRSS once started.
  for schema in k100k startup; do
    n=100000; [ "$schema" = startup ] && n=$pg_startup_keys
    for r in $(seq 1 "$runs"); do
      t0=$(date +%s%N)
      start_server "apikeysd-pg-$schema" "listening" "$bin/apikeysd" --host 127.0.0.1 --port 7445 --store "$(pg_store "$schema")" \
        --threads 1 --service-credentials-file "$credentials_file" --log-level warning
      t1=$(date +%s%N)
      rss=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
      echo "row=pg-startup keys=$n run=$r startup_ms=$(( (t1 - t0) / 1000000 )) rss_kb=$rss" | tee -a "$results" >&2
      stop_server
    done
  done
fi

# --- 8. Instructions and allocations per Verify under callgrind (issue 14) ------------------------
# Counted, not timed: the one row a busy machine does not disturb (scripts/profile-verify.sh).
profile_args=()
if wants callgrind; then
  say "row 8: Verify under callgrind (instructions and allocations per call)"
  scripts/profile-verify.sh "$bin" "$work/profile" > "$work/profile.txt" || { say "FAILED: scripts/profile-verify.sh"; exit 1; }
  grep '^instructions_per_call=' "$work/profile.txt" | sed 's/^/row=callgrind /' | tee -a "$results" >&2
  profile_args=(--profile "$work/profile.txt")
fi

# --- the table -------------------------------------------------------------------------------
total=$(( $(date +%s) - started ))
python3 Benchmarks/scripts/report.py "$results" \
  --command "make bench (scripts/bench.sh; BENCH_RUNS=$runs BENCH_WARMUP=$warmup BENCH_DURATION=$duration)" \
  --cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" --cores "$(nproc)" \
  --pinning "server on CPU $server_cpu, client on CPU $client_cpu (taskset)" \
  --build-seconds "$build_seconds" --seed-seconds "$seed_seconds" --total-seconds "$total" "${profile_args[@]}" --out BENCHMARKS.md
