# Sourced by main.sh and test.sh: installs the Debian 12 packages afterburn needs, if missing.
# Everything comes from Debian; nothing is downloaded from anywhere else.
AFTERBURN_PACKAGES=(
  build-essential binutils cmake g++ python3 xz-utils zstd cpio gzip bc flex bison libelf-dev libssl-dev
  llvm-14-dev binutils-dev gcc-12-plugin-dev catch2 clang-14 libclang-rt-14-dev
  qemu-system-x86 busybox-static linux-source-6.1 xen-hypervisor-4.17-amd64 libxen-dev
  cloc unifdef   # afterburn cost: the line counter, and #if-block removal for the hooks
)

afterburn_install_deps() {
  local missing=()
  for p in "${AFTERBURN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "afterburn: installing missing Debian packages: ${missing[*]}"
  local sudo=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "afterburn: need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

afterburn_build_tree() {
  local root=$1
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE="${AFTERBURN_BUILD_TYPE:-RelWithDebInfo}" >/dev/null &&
  cmake --build "$root/build" -j"$(nproc)"
}
