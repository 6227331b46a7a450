#!/usr/bin/env bash
# `make bench-large` (issue 14, goal 6): apikeysd on a 10,000,000-key SQLite store. Its
# start-up time, its resident memory per key, and Verify at 10,000,000 keys against the same
# server at 100,000 keys, measured in alternation (100k, 10M, 100k, ...) so that a drifting
# machine weighs on both. Writes BENCHMARKS-large.md. Apart from `make bench` because seeding
# ten million keys takes minutes of its own.
#
# Environment: BENCH_LARGE_KEYS (10000000), BENCH_RUNS (3), BENCH_WARMUP (0.5),
# BENCH_DURATION (2), BENCH_SERVER_CPU (0), BENCH_CLIENT_CPU (1); BENCH_LARGE_DATA=DIR keeps
# the seeded stores in DIR and reuses them on the next run (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
large=${BENCH_LARGE_KEYS:-10000000}
runs=${BENCH_RUNS:-3}
warmup=${BENCH_WARMUP:-0.5}
duration=${BENCH_DURATION:-2}
server_cpu=${BENCH_SERVER_CPU:-0}
client_cpu=${BENCH_CLIENT_CPU:-1}
say() { echo "bench-large: $*" >&2; }

for p in libprotobuf-c-dev libsqlite3-dev pkg-config util-linux procps; do
  dpkg -s "$p" >/dev/null 2>&1 && continue
  [ "$(id -u)" = 0 ] || { say "FAILED: installing $p needs root"; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
command -v swift >/dev/null || { say "FAILED: no swift on PATH"; exit 1; }
if [ "$(nproc)" -lt 2 ]; then server_cpu=0; client_cpu=0; fi

work=$(mktemp -d /tmp/apikeys-bench-large.XXXXXX)
data=${BENCH_LARGE_DATA:-$work/data}
mkdir -p "$data"
results=$work/results.txt
: > "$results"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building apikeysd, bench-seed and bench-load (release)"
t=$(date +%s)
for product in bench-seed bench-load apikeysd; do
  swift build -c release --package-path Benchmarks --product "$product" 2>&1 | grep -E "error|Build of product" >&2 || true
done
bin=$(swift build -c release --package-path Benchmarks --show-bin-path)
for b in apikeysd bench-seed bench-load; do [ -x "$bin/$b" ] || { say "FAILED: $bin/$b was not built"; exit 1; }; done
build_seconds=$(( $(date +%s) - t ))

# Each store is seeded once per BENCH_LARGE_DATA; a store whose seeding did not finish has no
# `seeded` mark and is written again.
seed() {  # name keys bench-seed-options...
  local name=$1 n=$2; shift 2
  if [ -f "$data/$name/seeded" ] && [ "$(cat "$data/$name/seeded")" = "$n" ]; then
    say "reusing $data/$name ($n keys)"; return
  fi
  rm -rf "${data:?}/$name"
  local t0; t0=$(date +%s%N)
  "$bin/bench-seed" --data-dir "$data/$name" --keys "$n" "$@" >&2
  echo "row=seed keys=$n ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >> "$results"
  echo "$n" > "$data/$name/seeded"
}
say "seeding 0, 100,000 and $large keys"
seed k0 0
seed k100k 100000
# 100,000 real secrets spread over the large store: every (large / 100,000)-th key.
seed klarge "$large" --bulk --tsv 100000 --tsv-every $(( large / 100000 > 0 ? large / 100000 : 1 ))
seed_seconds=$(( $(date +%s) - t - build_seconds ))
size_mb=$(( $(du -sk "$data/klarge" | cut -f1) / 1024 ))

credential=$(cat "$data/k100k/service.secret")
credentials_file=$work/service-credentials
(umask 077 && printf 'bench act %s\n' "$credential" > "$credentials_file")

start_server() {  # data-dir port
  taskset -c "$server_cpu" "$bin/apikeysd" --host 127.0.0.1 --port "$2" --data-dir "$1" --threads 1 \
    --max-concurrent-calls 256 --service-credentials-file "$credentials_file" --log-level warning > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 12000); do
    grep -q listening "$work/server.log" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { say "FAILED: apikeysd exited:"; cat "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  say "FAILED: apikeysd did not start in 120 s"; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# Start-up to the "listening" line (store opened, index loaded, socket bound), warm page cache
# (the seeding or the previous run read the file), and the resident memory once started.
for name in k0 k100k klarge; do
  for r in $(seq 1 "$runs"); do
    t0=$(date +%s%N)
    start_server "$data/$name" 7450
    t1=$(date +%s%N)
    echo "row=startup store=$name run=$r startup_ms=$(( (t1 - t0) / 1000000 )) rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)" \
      | tee -a "$results" >&2
    stop_server
  done
done

# Verify: each run starts the server it measures, alternating between the stores.
for config in 1/1 16/4 128/4; do
  n=${config%/*} c=${config#*/}
  for r in $(seq 1 "$runs"); do
    for name in k100k klarge; do
      start_server "$data/$name" 7451
      line=$(taskset -c "$client_cpu" "$bin/bench-load" --mode rpc --port 7451 --keys "$data/$name/keys.tsv" \
             --credential "$credential" --connections "$c" --inflight "$n" --warmup "$warmup" --duration "$duration" \
             --server-pid "$server_pid")
      echo "row=verify store=$name inflight=$n connections=$c run=$r $line" | tee -a "$results" >&2
      stop_server
    done
  done
done

total=$(( $(date +%s) - started ))
python3 - "$results" "$large" "$runs" "$warmup" "$duration" "$build_seconds" "$seed_seconds" "$total" "$size_mb" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(nproc)" <<'PY'
import datetime, platform, statistics, subprocess, sys
path, large, runs, warmup, duration, build_s, seed_s, total_s, size_mb, cpu, cores = sys.argv[1:]
large = int(large)
rows = [dict(p.split("=", 1) for p in l.split() if "=" in p) for l in open(path) if "=" in l]
med = lambda xs: statistics.median(xs) if xs else float("nan")
label = {"k0": "empty", "k100k": "100,000 keys", "klarge": f"{large:,} keys"}
startup = {s: [r for r in rows if r["row"] == "startup" and r["store"] == s] for s in label}
ms = {s: med([float(r["startup_ms"]) for r in v]) for s, v in startup.items()}
rss = {s: med([float(r["rss_kb"]) * 1024 for r in v]) for s, v in startup.items()}
table = ["| benchmark | configuration | result (median) | p50 µs | p99 µs | p99.9 µs | notes |",
         "|---|---|---|---:|---:|---:|---|"]
for s in label:
    table.append(f"| apikeysd start-up to listening | {label[s]} | {ms[s]:,.0f} ms |  |  |  | "
                 f"resident {rss[s] / 2**20:,.1f} MiB after start-up; {len(startup[s])} runs |")
per_key = (rss["klarge"] - rss["k0"]) / large
table.append(f"| resident memory per key | {large:,} keys | {per_key:.0f} B/key |  |  |  | "
             f"(RSS at {large:,} − empty) / keys; including the empty server: {rss['klarge'] / large:.0f} B/key |")
verify = {}
for n, c in [("1", "1"), ("16", "4"), ("128", "4")]:
    for s in ["k100k", "klarge"]:
        rs = [r for r in rows if r["row"] == "verify" and r["store"] == s and r["inflight"] == n and r["connections"] == c]
        if not rs:
            continue
        v = {k: med([float(r[k]) for r in rs]) for k in ["rps", "p50_us", "p99_us", "p999_us", "server_cpu_us_per_call"]}
        verify[(n, c, s)] = v
        rps = sorted(float(r["rps"]) for r in rs)
        note = f"server CPU {v['server_cpu_us_per_call']:.1f} µs/call; min/max {rps[0]:,.0f}/{rps[-1]:,.0f}"
        if s == "klarge" and (n, c, "k100k") in verify:
            note += f"; **{v['rps'] / verify[(n, c, 'k100k')]['rps']:.2f}×** 100,000 keys"
        table.append(f"| Verify, our protocol | {label[s]}, {n} in flight, {c} conn | {v['rps']:,.0f} calls/s | "
                     f"{v['p50_us']:,.1f} | {v['p99_us']:,.1f} | {v['p999_us']:,.1f} | {note} |")
ratios = [verify[(n, c, "klarge")]["rps"] / verify[(n, c, "k100k")]["rps"]
          for n, c in [("1", "1"), ("16", "4"), ("128", "4")] if (n, c, "klarge") in verify and (n, c, "k100k") in verify]
verdict = lambda ok: "met" if ok else "**missed**"
table.append(f"| goal | start-up < 15 s at {large:,} keys | {ms['klarge'] / 1000:.1f} s |  |  |  | {verdict(ms['klarge'] < 15000)} |")
if ratios:
    table.append(f"| goal | Verify at {large:,} keys at the speed of 100,000 (within 10%) | "
                 f"{min(ratios):.2f}× (worst configuration) |  |  |  | {verdict(min(ratios) >= 0.9)} |")
table.append(f"| goal | memory ≤ 120 bytes per key (at {large:,}) | {per_key:.0f} B/key |  |  |  | {verdict(per_key <= 120)} |")
seeds = [r for r in rows if r["row"] == "seed"]
seeded = "; ".join(f"{int(r['keys']):,} keys in {float(r['ms']) / 1000:,.1f} s" for r in seeds) or "reused from BENCH_LARGE_DATA"
swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
doc = f"""# Benchmarks at {large:,} keys

Written by `make bench-large` (scripts/bench-large.sh) — do not edit by hand; run it again.
Issue 14, goal 6: a {large:,}-key SQLite store starts in under 15 s and verifies at the speed of
a 100,000-key one. `make bench` (BENCHMARKS.md) has everything else.

- **Date:** {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- **Command:** `make bench-large (scripts/bench-large.sh; BENCH_RUNS={runs} BENCH_WARMUP={warmup} BENCH_DURATION={duration})`
- **Machine:** {cores} cores, {cpu}; {platform.system()} {platform.release()}; {swift[0] if swift else 'swift ?'}
- **Pinning:** apikeysd on one core with one event loop thread (`--threads 1`), bench-load on the other (taskset)
- **Time:** build {build_s} s, seeding {seed_s} s ({seeded}; `bench-seed --bulk`), whole run {total_s} s; the {large:,}-key data directory is {int(size_mb):,} MiB

{chr(10).join(table)}

The Verify rows alternate between the two stores run by run (each run starts its server),
with the same 100,000 real secrets' worth of load: at {large:,} keys they are every
{max(1, large // 100000)}th key, spread over the whole index. Start-up reads a warm page cache.
"""
open("BENCHMARKS-large.md", "w").write(doc)
print("\n".join(table))
PY
say "wrote BENCHMARKS-large.md"
