#!/usr/bin/env bash
# End to end on a real kernel: build Debian's Linux 6.1 with afterburn-cc, account for every
# sensitive instruction (afterburn scan, then the independent objdump census class by class),
# boot the vmlinux and the bzImage natively (each runs the initramfs workload), save the native
# workload transcript (OUTDIR/workload-native.txt), print a summary. Used by scripts/main.sh and by
# ctest (linux.e2e).
# Usage: tests/linux/e2e.sh BUILD_DIR OUTDIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 out=$2
ab=$build/bin/afterburn
declare -A result

# A transcript left from an earlier run must not stand in for this one's.
rm -f "$out/workload-native.txt"
echo "== afterburn build-linux -o $out"
if "$ab" build-linux -o "$out"; then result[build]=ok; else result[build]=FAILED; fi

if [ "${result[build]}" = ok ]; then
  echo "== afterburn scan $out/vmlinux"
  "$ab" scan "$out/vmlinux" > "$out/scan.txt"
  [ $? -eq 0 ] && result[scan]=ok || result[scan]=FAILED
  cat "$out/scan.txt"
  "$ab" scan --json "$out/vmlinux" > "$out/scan.json" 2>/dev/null

  echo "== independent census (objdump) vs. afterburn scan"
  if python3 "$here/../census/compare.py" "$out/vmlinux" "$out/scan.json" | tee "$out/census.txt"; then
    result[census]=ok
  else
    result[census]=FAILED
  fi

  for img in vmlinux bzImage; do
    echo "== afterburn boot --on native $img"
    start=$(date +%s.%N)
    if "$ab" boot --on native "$out/$img" --initrd "$out/initramfs.cpio.gz" --timeout 180 -q \
         --log "$out/boot-$img.log"; then
      result[boot-$img]=ok
    else
      result[boot-$img]=FAILED
      tail -20 "$out/boot-$img.log"
    fi
    echo "   $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"
  done

  # The native workload transcript: what the other platforms' transcripts are compared with.
  echo "== workload transcript (native, vmlinux) -> $out/workload-native.txt"
  if "$here/compare-workload.sh" --extract "$out/boot-vmlinux.log" > "$out/workload-native.txt"; then
    result[workload]=ok
    echo "   $(wc -l < "$out/workload-native.txt") lines"
  else
    result[workload]=FAILED
  fi
fi

echo
echo "== summary"
[ -f "$out/build-time" ] && echo "  build time: $(cat "$out/build-time") s"
if [ -f "$out/scan.json" ]; then
  python3 - "$out/scan.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"  sites: {j['total']} total, {j['annotated']} annotated, "
      f"{j['explained']} explained, {j['unexplained']} unexplained, {j['bad_records']} bad records")
c = j["classes"]
if "page_table_store" in c:
    print(f"  of which page-table accesses (compiler pass): {c['page_table_store']['total']} stores, "
          f"{c['page_table_load']['total']} loads")
PY
fi
rc=0
for k in build scan census boot-vmlinux boot-bzImage workload; do
  v=${result[$k]:-skipped}
  printf '  %-14s %s\n' "$k" "$v"
  [ "$v" = ok ] || rc=1
done
exit $rc
