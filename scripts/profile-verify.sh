#!/usr/bin/env bash
# Instructions and allocations per Verify call, counted by callgrind on the release server:
# repeatable whatever else the machine does, unlike throughput (issue 14, goal 3).
#
#   scripts/profile-verify.sh BIN_DIR [OUT_DIR]
#
# BIN_DIR holds release builds of bench-server, bench-seed and bench-load (Benchmarks/'s bin
# path). bench-server is apikeysd's APIKeysServer (same routes, service, store, flags as
# row 1) behind a synchronous main, which valgrind can run (it cannot run apikeysd's async
# main; see bench-server). It runs under callgrind with collection off; after a warm-up,
# collection is on for PROFILE_SECONDS (3) of load at PROFILE_CONFIG (16/4: calls in flight /
# connections), then off. Verify calls are counted from callgrind's own call counts (calls
# into APIKeyService.verify), allocations from calls into malloc, calloc, realloc and
# posix_memalign. Prints a key=value line (instructions_per_call on the event loop,
# allocations_per_call, calls, all_threads_instructions_per_call) and the ten functions with
# the most instructions of their own on the event loop.
# PROFILE_KEYS (10000) keys are seeded.
set -euo pipefail
bin=${1:?usage: profile-verify.sh BIN_DIR [OUT_DIR]}
out=${2:-$(mktemp -d /tmp/apikeys-profile.XXXXXX)}
seconds=${PROFILE_SECONDS:-3}
config=${PROFILE_CONFIG:-16/4}
keys=${PROFILE_KEYS:-10000}
port=${PROFILE_PORT:-7429}
say() { echo "profile: $*" >&2; }

if ! command -v valgrind >/dev/null; then
  say "installing valgrind"
  [ "$(id -u)" = 0 ] || { say "FAILED: installing valgrind needs root"; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null \
    || { say "FAILED: apt-get install valgrind"; exit 1; }
fi
for b in bench-server bench-seed bench-load; do [ -x "$bin/$b" ] || { say "FAILED: no $bin/$b"; exit 1; }; done

mkdir -p "$out"
data=$out/store
rm -rf "$data"
"$bin/bench-seed" --data-dir "$data" --keys "$keys" >/dev/null
credential=$(cat "$data/service.secret")
# Valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes ("possibly corrupted
# debuginfo"): profile a copy without debug information; the symbol table still names
# every function.
objcopy --strip-debug "$bin/bench-server" "$out/bench-server"

server_log=$out/bench-server.log
valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file="$out/callgrind.out" \
  "$out/bench-server" --port "$port" --data-dir "$data" --credential "$credential" --threads 1 \
  --max-concurrent-calls 256 > "$server_log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 3000); do
  grep -q listening "$server_log" && break
  kill -0 $server 2>/dev/null || { say "FAILED: bench-server exited"; cat "$server_log" >&2; exit 1; }
  sleep 0.1
done
grep -q listening "$server_log" || { say "FAILED: bench-server did not start under valgrind"; exit 1; }

n=${config%/*} c=${config#*/}
load() {  # seconds
  "$bin/bench-load" --mode rpc --port "$port" --keys "$data/keys.tsv" --credential "$credential" \
    --connections "$c" --inflight "$n" --warmup 0 --duration "$1"
}
load 2 >/dev/null                       # warm-up: first-call paths, caches, allocator pools
callgrind_control -i on $server >/dev/null
load "$seconds" > "$out/load.txt"
callgrind_control -i off $server >/dev/null
callgrind_control -d $server >/dev/null
kill -KILL $server 2>/dev/null || true
wait $server 2>/dev/null || true
trap - EXIT

# The dumps written by `callgrind_control -d`, one per thread (callgrind.out.1-NN).
dumps=("$out"/callgrind.out.1-*)
[ -s "${dumps[0]}" ] || { say "FAILED: callgrind wrote no dump"; exit 1; }

# Per thread: its instructions, and calls into a function summed over its callers (callgrind
# writes `cfn=` then `calls=N`). The event loop is the thread that made the Verify calls; the
# others (the usage flush once a second, the pool) do work per second, not per call, which at
# valgrind's ~100 calls/s would weigh a thousand times what it weighs at 100,000 calls/s.
python3 - "$out/load.txt" "$out/event-loop-dump" "${dumps[@]}" <<'EOF'
import re, sys
load, loop_path, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
ALLOCATORS = ("malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign")
# Where allocations come from: calls into an allocator or Swift's allocation entry points,
# summed by the first caller that is neither (the function whose code allocates).
ALLOCATING = set(ALLOCATORS) | {"swift_allocObject", "swift_slowAlloc", "swift_allocBox", "swift_allocEmptyBox",
                                "operator new(unsigned long)", "_Znwm"}
def read(path):
    names, total, calls_to, current, caller = {}, 0, {}, None, None
    sites = {}
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
            m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
            if m:
                ident, name = m.group(1), m.group(2)
                if name: names[ident] = name.strip()
                if line.startswith("cfn="): current = names.get(ident)
                else: caller = names.get(ident)
                continue
            if line.startswith("calls=") and current is not None:
                n = int(line.split()[0][6:])
                calls_to[current] = calls_to.get(current, 0) + n
                if current in ALLOCATING and caller not in ALLOCATING and caller is not None:
                    sites[caller] = sites.get(caller, 0) + n
                current = None
    # The domain's verify, mangled (callgrind does not demangle Swift): APIKeyService.verify(_:verifier:).
    verifies = sum(n for s, n in calls_to.items() if "APIKeyService" in s and "6verify_8verifier" in s)
    allocations = sum(n for s, n in calls_to.items() if s in ALLOCATORS)
    return total, verifies, allocations, sites
threads = {p: read(p) for p in paths}
loop = max(threads, key=lambda p: threads[p][1])
total, verifies, allocations, sites = threads[loop]
if verifies == 0:
    sys.exit("profile: FAILED: found no calls into APIKeyService.verify in the profile")
everything = sum(t[0] for t in threads.values())
print(f"instructions_per_call={total / verifies:.0f} allocations_per_call={allocations / verifies:.1f} "
      f"calls={verifies} all_threads_instructions_per_call={everything / verifies:.0f} "
      f"load: {open(load).read().strip()}")
open(loop_path, "w").write(loop)
with open(loop_path + ".sites", "w") as f:
    for name, n in sorted(sites.items(), key=lambda kv: -kv[1])[:12]:
        f.write(f"{n / verifies:.2f} {name}\n")
EOF
dump=$(cat "$out/event-loop-dump")
echo "top ten functions by their own instructions on the event loop (callgrind_annotate $dump):"
# awk takes the first ten itself: `head` would close the pipe early, a failure under pipefail.
callgrind_annotate --threshold=100 "$dump" 2>/dev/null | awk '/^-+$/ {sep++; next} sep >= 3 && NF > 1 && !/PROGRAM TOTALS|^ *Ir / && n < 10 {print; n++}' \
  | while read -r ir rest; do
      name=$(echo "$rest" | sed 's/^[^:]*://' | swift demangle --simplified 2>/dev/null || echo "$rest")
      echo "  $ir  ${name:0:160}"
    done
echo "allocations per Verify call by the function that allocates (first caller outside malloc and swift_allocObject):"
while read -r per name; do
  echo "  $per  $(echo "$name" | swift demangle --simplified 2>/dev/null | cut -c1-160)"
done < "$out/event-loop-dump.sites"
