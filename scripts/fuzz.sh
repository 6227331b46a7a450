#!/usr/bin/env bash
# Fuzzing of the wire codec: libFuzzer harnesses for the C codec (Fuzz/c) and the Swift
# decoding path (Fuzz/swift). Installs nothing; checks what it needs and says so.
#
#   scripts/fuzz.sh build            compile every harness into .build-fuzz/
#   scripts/fuzz.sh replay           run each harness once over its corpus and crashes/
#   scripts/fuzz.sh run [SECONDS]    fuzz each harness for SECONDS (default 300), one at a time
#   scripts/fuzz.sh smoke            build, replay, then each harness ~20 s (for make test)
#
# Environment: FUZZ_HARNESSES (default: all), FUZZ_JOBS for swift build (default 1),
# FUZZ_SMOKE_SECONDS (default 20), FUZZ_SKIP_APPEND_TO_DECODED=1 (see Fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.build-fuzz
CODEC=$ROOT/Sources/CAPIKeysCodec
C_HARNESSES=(fuzz_frame_decoder fuzz_message_decoder)
SWIFT_HARNESS=fuzz_swift_wire
ALL_HARNESSES=("${C_HARNESSES[@]}" "$SWIFT_HARNESS")
read -r -a HARNESSES <<<"${FUZZ_HARNESSES:-${ALL_HARNESSES[*]}}"
# Each harness's seed corpus under Fuzz/corpus/.
declare -A SEEDS=([fuzz_frame_decoder]=frame [fuzz_message_decoder]=message [fuzz_swift_wire]=swift)
# Bounded memory: a budget violation that allocates without bound fails the run.
LIMITS=(-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=10)

die() { echo "fuzz: FAILED: $*" >&2; exit 1; }

prerequisites() {
  command -v swift >/dev/null || die "no swift on PATH (the Swift toolchain, e.g. /opt/swift/usr/bin, is needed)"
  CLANG=$(dirname "$(command -v swift)")/clang
  [ -x "$CLANG" ] || die "no clang next to swift ($CLANG); the Swift toolchain's clang builds the harnesses"
  [ -f /usr/include/protobuf-c/protobuf-c.h ] || die "protobuf-c headers missing: apt-get install libprotobuf-c-dev (or make deps)"
  echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | "$CLANG" -x c - -fsanitize=fuzzer,address,undefined -fuse-ld=lld \
    -o /dev/null 2>/dev/null || die "$CLANG cannot link -fsanitize=fuzzer,address,undefined"
}

build_c() {
  local harness=$1
  # -fno-sanitize=function: protobuf-c's descriptors call the generated foo__init(Foo *)
  # through a ProtobufCMessageInit(ProtobufCMessage *) pointer, by design.
  "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize=function \
    -fno-sanitize-recover=undefined -fuse-ld=lld -Wall -Wextra -Wno-unused-parameter \
    -I"$CODEC/include" -I"$CODEC" -I"$CODEC/generated" \
    "Fuzz/c/$harness.c" "$CODEC"/*.c "$CODEC"/generated/apikeys/v1/*.pb-c.c \
    -lprotobuf-c -o "$OUT/$harness"
}

build_swift() {
  # A SwiftPM package of its own that depends on the main one by path; its own scratch
  # path keeps the main .build/ untouched.
  # --sanitize=fuzzer makes SwiftPM link libFuzzer's main instead of the target's. The
  # Swift driver keeps only the last -sanitize= option, so SwiftPM's pair
  # (--sanitize=fuzzer --sanitize=address) would drop the coverage: give Swift one
  # combined -sanitize=fuzzer,address (it comes last) and C the address half.
  local status=0 log=$OUT/swift-build.log
  (cd Fuzz/swift && swift build -c debug -j "${FUZZ_JOBS:-2}" --scratch-path "$OUT/swift" \
      --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address) >"$log" 2>&1 || status=$?
  grep -vE '^\[|Cannot export local symbol' "$log" || true
  [ "$status" = 0 ] || die "the Swift harness did not build (log: $log)"
  local bin
  bin=$(cd Fuzz/swift && swift build -c debug --scratch-path "$OUT/swift" --show-bin-path)/FuzzWire
  ln -sf "$bin" "$OUT/$SWIFT_HARNESS"
}

build() {
  prerequisites
  mkdir -p "$OUT"
  for h in "${HARNESSES[@]}"; do
    echo "fuzz: building $h"
    if [ "$h" = "$SWIFT_HARNESS" ]; then build_swift; else build_c "$h"; fi
  done
}

built() {
  for h in "${HARNESSES[@]}"; do
    [ -x "$OUT/$h" ] || die "$OUT/$h is missing; run scripts/fuzz.sh build"
  done
}

# Runs each harness once over every seed and every saved crash; any crash fails.
replay() {
  built
  local failed=0
  for h in "${HARNESSES[@]}"; do
    local inputs=("Fuzz/corpus/${SEEDS[$h]}")
    [ -d "Fuzz/crashes/$h" ] && inputs+=("Fuzz/crashes/$h")
    local files
    files=$(find "${inputs[@]}" -type f ! -name 'README*' ! -name '.*' | sort)
    local count
    count=$(printf '%s\n' "$files" | grep -c . || true)
    local log=$OUT/replay-$h.log
    # Files, not directories: libFuzzer runs each given file once and stops at a crash.
    # shellcheck disable=SC2086
    if "$OUT/$h" "${LIMITS[@]}" -runs=1 $files >"$log" 2>&1; then
      echo "fuzz: replay $h: $count inputs, no crash"
    else
      echo "fuzz: replay $h: CRASH (log: $log)"
      grep -E 'ERROR|SUMMARY|invariant failed|Running: ' "$log" | tail -n 6 | sed 's/^/    /'
      failed=1
    fi
  done
  [ "$failed" = 0 ] || die "replay found crashes"
  echo "replay: ${#HARNESSES[@]} passed, 0 failed"
}

# Fuzzes each harness in turn for $1 seconds, growing a working corpus in .build-fuzz/
# (the committed seeds stay small), and prints execs/s and coverage.
run() {
  local seconds=${1:-300}
  built
  local failed=0
  for h in "${HARNESSES[@]}"; do
    local work=$OUT/corpus/$h artifacts=$OUT/artifacts/$h/
    mkdir -p "$work" "$artifacts"
    local log=$OUT/run-$h.log
    echo "fuzz: run $h for ${seconds}s (log: $log)"
    if "$OUT/$h" "${LIMITS[@]}" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts" "$work" "Fuzz/corpus/${SEEDS[$h]}" >"$log" 2>&1; then
      :
    else
      failed=1
    fi
    summarize "$h" "$log" "$work" "$artifacts"
  done
  [ "$failed" = 0 ] || die "a harness crashed; its input is in .build-fuzz/artifacts/<harness>/: copy it to Fuzz/crashes/<harness>/"
}

summarize() {
  local h=$1 log=$2 work=$3 artifacts=$4
  local last execs rate
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  local cov ft corp
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  printf 'fuzz: %-22s execs %-9s exec/s %-6s cov %-5s ft %-6s corpus %s (%s files kept)\n' \
    "$h" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$(find "$work" -type f | wc -l)"
  if grep -qE 'ERROR: |Test unit written' "$log"; then
    echo "fuzz: $h CRASHED:"
    grep -E 'ERROR|SUMMARY|invariant failed|Test unit written' "$log" | head -n 6 | sed 's/^/    /'
  fi
}

case "${1:-}" in
  build) build ;;
  replay) replay ;;
  run) run "${2:-300}" ;;
  smoke)
    build
    replay
    run "${FUZZ_SMOKE_SECONDS:-20}"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
