#!/usr/bin/env bash
# The main job: build the toolchain, build Debian's Linux 6.1 with it, account for every
# sensitive instruction, boot the result natively (vmlinux and bzImage), print a summary.
# Usage: scripts/main.sh [OUTDIR]   (default: build/linux)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/linux}
source "$root/scripts/deps.sh"
afterburn_install_deps || exit 1
echo "== building the afterburn toolchain (build/)"
afterburn_build_tree "$root" >/dev/null || { echo "toolchain build failed: run cmake --build build to see why"; exit 1; }
exec "$root/tests/linux/e2e.sh" "$root/build" "$out"
