#!/usr/bin/env bash
# `make bench`: builds Benchmarks/ (release), runs every benchmark and prints one table,
# also written to BENCHMARKS.md with the date, the command and the machine.
#
# Environment: BENCH_RUNS (3) runs per load configuration, BENCH_WARMUP (0.5) and
# BENCH_DURATION (2) seconds per run, BENCH_SERVER_CPU (0) and BENCH_CLIENT_CPU (1)
# for taskset, BENCH_ONLY (all) to run some rows only: e.g. "verify echo grpc http codec storage".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)

runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-0.5}
duration=${BENCH_DURATION:-2}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
only=${BENCH_ONLY:-verify echo grpc http codec storage}
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
if [ "$(nproc)" -lt 2 ]; then server_cpu=0; client_cpu=0; say "one core only: client and server share it"; fi

work=$(mktemp -d /tmp/apikeys-bench.XXXXXX)
results=$work/results.txt
: > "$results"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- build, and seed the stores while the rest builds ---------------------------------------
# bench-seed needs only the main package's storage: seeding a million keys (minutes of SQLite
# index work on one core) runs at low priority beside the build of gRPC and Hummingbird.
say "building bench-seed (release)"
t=$(date +%s)
swift build -c release --package-path Benchmarks --product bench-seed 2>&1 | grep -E "error|Build of product" >&2 || true
bin=$(swift build -c release --package-path Benchmarks --show-bin-path)
[ -x "$bin/bench-seed" ] || { say "FAILED: $bin/bench-seed was not built"; exit 1; }
seed_all() {
  set -e
  "$bin/bench-seed" --data-dir "$work/k100k" --keys 100000
  if wants storage; then
    "$bin/bench-seed" --data-dir "$work/k0" --keys 0
    "$bin/bench-seed" --data-dir "$work/k10k" --keys 10000 --tsv 0
    "$bin/bench-seed" --data-dir "$work/k1m" --keys 1000000 --tsv 0
  fi
}
say "seeding 100,000 keys (and 10,000 and 1,000,000 for the storage rows) while building the rest"
seed_started=$(date +%s)
( renice -n 10 -p "$BASHPID" >/dev/null 2>&1 || true; seed_all > "$work/seed.log" 2>&1; echo $? > "$work/seed.rc"; echo $(( $(date +%s) - seed_started )) > "$work/seed.seconds" ) &
seed_pid=$!
pids+=("$seed_pid")
say "building Benchmarks/ and apikeysd (release)"
swift build -c release --package-path Benchmarks 2>&1 | grep -E "error|Build complete" >&2 || true
swift build -c release --package-path Benchmarks --product apikeysd 2>&1 | grep -E "error|Build of product" >&2 || true
for b in apikeysd bench-load bench-echo bench-grpc bench-http bench-codec bench-seed bench-storage; do
  [ -x "$bin/$b" ] || { say "FAILED: $bin/$b was not built"; exit 1; }
done
build_seconds=$(( $(date +%s) - t ))
say "build took ${build_seconds}s; waiting for the seeding"
wait "$seed_pid" || true
cat "$work/seed.log" >&2
[ "$(cat "$work/seed.rc" 2>/dev/null)" = 0 ] || { say "FAILED: seeding the stores"; exit 1; }
seed_seconds=$(cat "$work/seed.seconds")
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

# The load configurations: calls in flight / connections.
configs="1/1 16/1 16/4 128/1 128/4"
load_rows() {  # row-name load-command...
  local row=$1; shift
  for config in $configs; do
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
  say "row 6: storage: Generate with durable commits"
  taskset -c "$server_cpu" "$bin/bench-storage" generate --data-dir "$work/gen" --seconds 5 \
    | sed 's/^/row=storage /' | tee -a "$results" >&2
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

# --- the table -------------------------------------------------------------------------------
total=$(( $(date +%s) - started ))
python3 Benchmarks/scripts/report.py "$results" \
  --command "make bench (scripts/bench.sh; BENCH_RUNS=$runs BENCH_WARMUP=$warmup BENCH_DURATION=$duration)" \
  --cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" --cores "$(nproc)" \
  --pinning "server on CPU $server_cpu, client on CPU $client_cpu (taskset)" \
  --build-seconds "$build_seconds" --seed-seconds "$seed_seconds" --total-seconds "$total" --out BENCHMARKS.md
