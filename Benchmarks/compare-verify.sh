#!/usr/bin/env bash
# Verify throughput of two apikeysd builds, measured in alternation (A B A B ...), so that a
# busy or drifting machine weighs on both alike: for "within N% of before" questions.
#
#   Benchmarks/compare-verify.sh A_BIN_DIR B_BIN_DIR [ROUNDS]
#
# Each BIN_DIR holds release apikeysd and bench-seed of one revision (bench-load comes from
# B). Each server gets a 100,000-key store seeded by its own bench-seed (schemas differ
# between revisions), row 1's flags (--threads 1, --log-level warning: no access log, no
# metrics), the server pinned to CPU 0 and the load to CPU 1. Prints one line per run and
# the medians per configuration with B/A.
#
# COMPARE_B_STORE=postgres: B's store is PostgreSQL instead (issue 10: Verify on PostgreSQL
# against SQLite; A and B may be the same BIN_DIR). A throwaway durable cluster is started and
# stopped here; it runs on the load's CPU at SCHED_IDLE priority, standing in for the
# database's own machine: it absorbs the usage flush in the load generator's idle time
# instead of slowing the generator down.
set -euo pipefail
a=${1:?usage: compare-verify.sh A_BIN_DIR B_BIN_DIR [ROUNDS]}
b=${2:?usage: compare-verify.sh A_BIN_DIR B_BIN_DIR [ROUNDS]}
rounds=${3:-5}
configs=${COMPARE_CONFIGS:-"1/1 16/4 128/4"}
b_store=${COMPARE_B_STORE:-sqlite}
work=$(mktemp -d /tmp/apikeys-compare.XXXXXX)
server="" pg_dir=""
cleanup() {
  [ -n "$server" ] && kill $server 2>/dev/null
  [ -n "$pg_dir" ] && "$(dirname "$0")/../scripts/postgres-cluster.sh" stop "$pg_dir" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$b_store" = postgres ]; then
  # Not under $work's mktemp: the cluster runs as the postgres user.
  pg_dir=$(mktemp -d /tmp/apikeys-compare-pg.XXXXXX)
  pg_url=$(APIKEYS_PG_FSYNC=on "$(dirname "$0")/../scripts/postgres-cluster.sh" start "$pg_dir" | tail -1)
  [[ "$pg_url" == postgres://* ]] || { echo "compare: the PostgreSQL cluster did not start" >&2; exit 1; }
  postmaster=$(head -1 "$pg_dir/data/postmaster.pid")
  # Backends forked later inherit the postmaster's CPU and policy.
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    taskset -a -p -c 1 "$pid" >/dev/null && chrt -i -p 0 "$pid"
  done
elif [ "$b_store" != sqlite ]; then
  echo "compare: COMPARE_B_STORE is sqlite or postgres, not $b_store" >&2; exit 2
fi
store_args() {  # side
  if [ "$1" = b ] && [ "$b_store" = postgres ]; then echo --store "$pg_url?schema=compare_b"; else echo --data-dir "$work/$1"; fi
}

start() {  # side bin port
  local side=$1 bin=$2 port=$3 credential
  credential=$(cat "$work/$side/service.secret")
  local args=(--host 127.0.0.1 --port "$port" $(store_args "$side") --threads 1 --max-concurrent-calls 256 --log-level warning)
  # X18 moved service credentials from a flag into a file.
  # (Help read whole first: grep -q would close the pipe early, failing it under pipefail.)
  if [[ "$("$bin/apikeysd" --help 2>&1)" == *--service-credentials-file* ]]; then
    (umask 077 && printf 'bench act %s\n' "$credential" > "$work/$side.credentials")
    args+=(--service-credentials-file "$work/$side.credentials")
  else
    args+=(--service-credential "bench=$credential")
  fi
  taskset -c 0 "$bin/apikeysd" "${args[@]}" > "$work/$side.log" 2>&1 &
  server=$!
  for _ in $(seq 1 3000); do grep -q listening "$work/$side.log" && return 0; sleep 0.01; done
  echo "compare: $side did not start" >&2; cat "$work/$side.log" >&2; exit 1
}

for side in a b; do
  bin=$a; [ $side = b ] && bin=$b
  # With --store, the seeder still writes keys.tsv and service.secret into --data-dir.
  "$bin/bench-seed" $(store_args "$side") --data-dir "$work/$side" --keys 100000 >/dev/null
done
for r in $(seq 1 "$rounds"); do
  for side in a b; do
    bin=$a; [ $side = b ] && bin=$b
    start $side "$bin" 7460
    for config in $configs; do
      n=${config%/*} c=${config#*/}
      line=$(taskset -c 1 "$b/bench-load" --mode rpc --port 7460 --keys "$work/$side/keys.tsv" \
        --credential "$(cat "$work/$side/service.secret")" --connections "$c" --inflight "$n" \
        --warmup 0.5 --duration 2 --server-pid "$server")
      echo "side=$side round=$r inflight=$n connections=$c $line" | tee -a "$work/results"
    done
    kill $server; wait $server 2>/dev/null || true; server=""
  done
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split() if "=" in kv) for line in open(sys.argv[1])]
for config in dict.fromkeys((r["inflight"], r["connections"]) for r in rows):
    med = {s: statistics.median(float(r["rps"]) for r in rows if (r["inflight"], r["connections"]) == config and r["side"] == s) for s in "ab"}
    cpu = {s: statistics.median(float(r["server_cpu_us_per_call"]) for r in rows if (r["inflight"], r["connections"]) == config and r["side"] == s) for s in "ab"}
    print(f"{config[0]} in flight, {config[1]} conn: A {med['a']:,.0f}/s ({cpu['a']:.1f} us CPU/call), "
          f"B {med['b']:,.0f}/s ({cpu['b']:.1f} us CPU/call), B/A {med['b'] / med['a']:.3f}")
PY
