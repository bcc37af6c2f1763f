#!/usr/bin/env bash
# Runs one libFuzzer target for a while: run.sh TARGET FUZZER IMAGE AFTERBURN_AS OUTDIR SECONDS
# Seeds come from IMAGE (the sample guest) and a small object afterburn-as assembles; the
# committed regression inputs (tests/fuzz/regressions/TARGET, every past finding) run first.
# Prints executions and findings; exits 1 on any finding (crash, sanitizer report, timeout).
set -euo pipefail
target=$1 fuzzer=$2 image=$3 as=$4 out=$5 seconds=$6
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$fuzzer" ]; then
  echo "FAIL: fuzzer $fuzzer was not built: clang++-14 with libFuzzer is needed" \
       "(Debian packages clang-14 libclang-rt-14-dev; scripts/deps.sh installs them)"
  exit 1
fi
[ -f "$image" ] || { echo "FAIL: no seed image $image"; exit 1; }
rm -rf "$out/seeds" "$out/findings"
mkdir -p "$out/seeds" "$out/corpus" "$out/findings"
python3 "$here/make_seeds.py" "$target" "$image" "$out/seeds"
if [ "$target" = elf ]; then
  printf '\t.text\n\tcli\n\tmov %%rax, %%cr3\n\tsti; hlt\n\t.pushsection .altinstr_replacement, "ax"\n\tclac\n\t.popsection\n\tret\n' \
    > "$out/small.s"
  "$as" --64 -o "$out/seeds/small.o" "$out/small.s"
fi
dirs=("$out/corpus" "$out/seeds")
[ -d "$here/regressions/$target" ] && dirs+=("$here/regressions/$target")

# Every regression input and seed once, then fuzz for the given time.
common=(-timeout=5 -rss_limit_mb=2048 -artifact_prefix="$out/findings/" -print_final_stats=1)
[ "$target" = elf ] && common+=(-max_len=400000)
log=$out/run.log
rc=0
"$fuzzer" "${common[@]}" -max_total_time="$seconds" "${dirs[@]}" > "$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
findings=$(find "$out/findings" -type f | wc -l)
corpus=$(find "$out/corpus" -type f | wc -l)
echo "fuzz $target: ${execs:-?} executions in ${seconds}s, corpus $corpus inputs, $findings findings (exit $rc)"
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==|Test unit written' "$log" | head -20
  echo "FAIL: fuzz $target found a problem; inputs in $out/findings (add each to tests/fuzz/regressions/$target)"
  exit 1
fi
