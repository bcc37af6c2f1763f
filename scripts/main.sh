#!/usr/bin/env bash
# The main job: build the toolchain, build Debian's Linux 6.1 with it, account for every
# sensitive instruction, boot the result natively (vmlinux and bzImage), boot the same vmlinux
# through the KVM wedge and the Xen wedge (shadow and direct paging) and compare each workload
# transcript with the native one, then boot the annotated sample guest on every backend
# (native, KVM, Xen, and L4 with a Pistachio build), print a summary.
# Usage: scripts/main.sh [OUTDIR]   (default: build/linux)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/linux}
source "$root/scripts/deps.sh"
afterburn_install_deps || exit 1
echo "== building the afterburn toolchain, the sample guest and the backends (build/)"
afterburn_build_tree "$root" >/dev/null || { echo "build failed: run cmake --build build to see why"; exit 1; }

"$root/tests/linux/e2e.sh" "$root/build" "$out"
rc=$?

ab=$root/build/bin/afterburn guest=$root/build/samples/guest/guest.elf
compare=$root/tests/linux/compare-workload.sh

# The byte-identical vmlinux on each wedge that boots Linux today, judged by its workload
# transcript against the native one e2e.sh saved.
# xen-direct: the same Xen with direct paging (Linux's own page tables, docs/xen-direct-paging.md).
declare -A linux_result
for backend in kvm xen xen-direct; do
  log=$out/linux-$backend.log
  on=(--on "$backend")
  [ "$backend" != xen-direct ] || on=(--on xen --paging direct)
  echo "== afterburn boot ${on[*]} $out/vmlinux"
  if [ ! -f "$out/workload-native.txt" ]; then
    linux_result[$backend]="not run (no native Linux transcript: the build or native boot failed)"; rc=1; continue
  fi
  "$ab" boot "${on[@]}" "$out/vmlinux" --initrd "$out/initramfs.cpio.gz" --timeout 900 -q --log "$log"
  case $? in
    0) if "$compare" "$out/workload-native.txt" "$log" >"$out/linux-$backend.compare" 2>&1; then
         linux_result[$backend]="ok (AFTERBURN-SUCCESS, workload transcript equals native)"
       else
         linux_result[$backend]="FAILED (transcript differs: $out/linux-$backend.compare)"; rc=1
       fi ;;
    4) linux_result[$backend]="not available on this machine" ;;
    *) linux_result[$backend]="FAILED (console log: $log)"; rc=1 ;;
  esac
done
# Linux on L4 does not run yet (docs/l4-backend.md, "Linux on L4: how far it gets"): with a
# Pistachio build the attempt is made and the line that stops it shown; it does not fail the job.
linux_result[l4]="not available on this machine"
if [ -n "${AFTERBURN_PISTACHIO:-}" ] && [ -f "$out/vmlinux" ]; then
  echo "== afterburn boot --on l4 $out/vmlinux (does not run yet)"
  "$ab" boot --on l4 "$out/vmlinux" --initrd "$out/initramfs.cpio.gz" --timeout 300 -q --log "$out/linux-l4.log"
  case $? in
    0) linux_result[l4]="booted (unexpected: compare $out/linux-l4.log by hand)" ;;
    4) ;;
    *) stop=
       [ ! -f "$out/linux-l4.log" ] ||
         stop=$(tr -d '\r' <"$out/linux-l4.log" | grep -m1 -E '^(AFTERBURN-FAILURE|PANIC)' || true)
       linux_result[l4]="does not run yet: ${stop:-no failure line, see $out/linux-l4.log}" ;;
  esac
fi
declare -A guest_result
for backend in native kvm xen l4; do
  echo "== afterburn boot --on $backend $guest"
  "$ab" boot --on "$backend" "$guest" --timeout 300 -q --log "$out/guest-$backend.log"
  status=$?
  summary=
  [ ! -f "$out/guest-$backend.log" ] ||
    summary=$(tr -d '\r' <"$out/guest-$backend.log" | grep -m1 -E '^[0-9]+ passed' || true)
  case $status in
    0) guest_result[$backend]="ok ($summary)" ;;
    4) guest_result[$backend]="not available on this machine" ;;
    *) guest_result[$backend]="FAILED (${summary:-no verdict}; console log: $out/guest-$backend.log)"; rc=1 ;;
  esac
done
echo
echo "== Linux 6.1 vmlinux (the file that booted natively above)"
for backend in kvm xen xen-direct l4; do printf '  %-14s %s\n' "$backend" "${linux_result[$backend]}"; done
echo "== sample guest (byte-identical file on each backend)"
for backend in native kvm xen l4; do printf '  %-14s %s\n' "$backend" "${guest_result[$backend]}"; done
exit $rc
