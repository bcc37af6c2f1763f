#!/usr/bin/env bash
# The test suite: installs what is missing, builds everything, runs ctest.
# Usage: scripts/test.sh [ctest arguments...]   (e.g. -L quick, -R unit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/deps.sh"
afterburn_install_deps
echo "afterburn: building (build/)"
afterburn_build_tree "$root"
cd "$root/build"
exec ctest --output-on-failure --timeout 2400 "$@"
