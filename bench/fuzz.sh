#!/usr/bin/env bash
# bench/fuzz.sh: the long fuzzing run (a benchmark of robustness, not a pass/fail test; ctest's
# fuzz.* tests run the same targets for a few seconds each).
#
# Usage: bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 300 s; all four targets)
#
# Builds the fuzzers (clang++-14, -fsanitize=fuzzer,address,undefined; see tests/fuzz/) and
# the sample guest whose annotation notes, instructions and sites seed them, then runs each
# target in turn and reports executions, corpus size and findings. The corpus grows in
# build/fuzz/TARGET/corpus across runs; every finding is left in build/fuzz/TARGET/findings
# and must become a regression input in tests/fuzz/regressions/TARGET (run by every ctest run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AFTERBURN_BUILD:-$repo/build}
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(annotation decoder rewriter elf)

nice -n 10 cmake --build "$build" -j2 --target fuzzers afterburn-as sample-guest > "$build/fuzz-build.log" 2>&1 ||
  { tail -20 "$build/fuzz-build.log"; echo "bench/fuzz.sh: build failed (log: $build/fuzz-build.log)"; exit 1; }

status=0
summary=()
for t in "${targets[@]}"; do
  start=$(date +%s)
  line=$("$repo/tests/fuzz/run.sh" "$t" "$build/fuzz/fuzz-$t" "$build/samples/guest/guest.elf" \
         "$build/bin/afterburn-as" "$build/fuzz/$t" "$seconds" 2>&1) || status=1
  echo "$line"
  summary+=("$(grep '^fuzz ' <<<"$line" | tail -1) [$(( $(date +%s) - start ))s wall]")
done
echo
echo "bench/fuzz.sh: $seconds s per target"
printf '  %s\n' "${summary[@]}"
exit $status
