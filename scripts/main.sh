#!/usr/bin/env bash
# The main job: build the toolchain, build Debian's Linux 6.1 with it, account for every
# sensitive instruction, boot the result natively (vmlinux and bzImage), then boot the
# annotated sample guest on every backend (native, KVM, Xen), print a summary.
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
declare -A guest_result
for backend in native kvm xen; do
  echo "== afterburn boot --on $backend $guest"
  "$ab" boot --on "$backend" "$guest" --timeout 300 -q --log "$out/guest-$backend.log"
  case $? in
    0) guest_result[$backend]="ok ($(grep -m1 -E '^[0-9]+ passed' "$out/guest-$backend.log"))" ;;
    4) guest_result[$backend]="not available on this machine" ;;
    *) guest_result[$backend]=FAILED; rc=1 ;;
  esac
done
echo
echo "== sample guest (byte-identical file on each backend)"
for backend in native kvm xen; do printf '  %-14s %s\n' "$backend" "${guest_result[$backend]}"; done
exit $rc
