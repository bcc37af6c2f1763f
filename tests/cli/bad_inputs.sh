#!/usr/bin/env bash
# Issue 9's bad inputs, each a corrupted copy of the real sample guest (or a hostile assembly
# file): `afterburn scan` and `afterburn rewrite` must refuse every one with a non-zero exit
# naming what is wrong and where, and nothing may take more than a second.
# usage: bad_inputs.sh AFTERBURN AFTERBURN_AS GUEST_ELF
set -euo pipefail
afterburn=$1 as=$2 guest=$3
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run SECONDS OUTFILE CMD...: runs CMD with a time limit, prints "rc elapsed_ms".
run() {
  local limit=$1 out=$2; shift 2
  local t0 t1 rc=0
  t0=$(date +%s%N)
  timeout "$limit" "$@" > "$out" 2>&1 || rc=$?
  t1=$(date +%s%N)
  echo "$rc $(( (t1 - t0) / 1000000 ))"
}

# expect CASE WANT_RC PATTERN: scan and rewrite on the corrupted copy.
expect() {
  local case=$1 want=$2 pattern=$3 img="$dir/$1.elf"
  python3 "$here/corrupt_elf.py" "$guest" "$img" "$case" > "$dir/$case.what"
  for verb in scan rewrite; do
    local args=("$afterburn" scan "$img")
    [ "$verb" = rewrite ] && args=("$afterburn" rewrite "$img" --backend xen -o "$dir/$case.out")
    local rc ms
    read -r rc ms < <(run 10 "$dir/$case.$verb.log" "${args[@]}")
    if [ "$rc" != "$want" ]; then
      fail "$case: afterburn $verb exit $rc, want $want ($(cat "$dir/$case.what")): $(tail -5 "$dir/$case.$verb.log")"
    elif ! grep -Eq -- "$pattern" "$dir/$case.$verb.log"; then
      fail "$case: afterburn $verb does not say /$pattern/: $(tail -5 "$dir/$case.$verb.log")"
    elif [ "$ms" -gt 1000 ]; then
      fail "$case: afterburn $verb took $ms ms"
    else
      echo "ok   $case: $verb exit $rc in $ms ms: $(grep -Em1 -- "$pattern" "$dir/$case.$verb.log" | sed 's/^ *//')"
    fi
  done
}

[ -f "$guest" ] || { echo "FAIL: no sample guest at $guest"; exit 1; }
"$afterburn" scan "$guest" > "$dir/clean.log" || { echo "FAIL: the uncorrupted guest does not scan clean"; exit 1; }

record='record \.note[a-z.]*\+0x[0-9a-f]+ \(site [^)]+\)'
expect exec-section-wraps 2 'wraps around 2\^64'
expect replacement-flag-on-text 1 "$record: replacement flag on a site outside \.altinstr_replacement"
expect pad-len-zero 1 "$record: insn_len \+ pad_len is below the kind's minimum site size"
expect reserved-header 1 "reserved field is not zero"
expect out-as-code16-region 1 "$record: region record with instruction fields"
expect out-as-page-table-store 1 "$record: page-table site: special is not an access form"
expect unknown-kind-71 1 "$record: unknown site kind 71"
expect unknown-kind-200 1 "$record: unknown site kind 200"
expect load-memsz-zero 2 'p_filesz 0x[0-9a-f]+ > p_memsz 0x0'

# afterburn-as on hostile assembly: a FILE:LINE error within a second, no object.
asm_case() {
  local name=$1 pattern=$2 src="$dir/$1.s"
  cat > "$src"
  local rc ms
  read -r rc ms < <(run 10 "$dir/$name.log" "$as" --64 -o "$dir/$name.o" "$src")
  if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then fail "afterburn-as $name: exit $rc: $(tail -3 "$dir/$name.log")"
  elif ! grep -Eq -- "$pattern" "$dir/$name.log"; then fail "afterburn-as $name: no /$pattern/: $(tail -3 "$dir/$name.log")"
  elif [ "$ms" -gt 1000 ]; then fail "afterburn-as $name took $ms ms"
  elif [ -e "$dir/$name.o" ]; then fail "afterburn-as $name left an object"
  else echo "ok   afterburn-as $name: exit $rc in $ms ms: $(grep -Em1 -- "$pattern" "$dir/$name.log")"
  fi
}
printf '\t.text\n\tcli\n\t.rept 1<<40\n\tnop\n\t.endr\n' | asm_case rept-2-40 "rept-2-40\.s:3: error: \.rept count above"
printf '\t.text\n\t.rept (1<<62)\n\tcli\n\t.endr\n' | asm_case rept-2-62 "rept-2-62\.s:2: error: \.rept count above"

if [ "$failures" -ne 0 ]; then echo "bad inputs: $failures failures"; exit 1; fi
echo "bad inputs: all refused"
