// Booting a kernel as Xen's 64-bit PV dom0 under QEMU TCG: Debian's Xen 4.17 (gunzipped for
// QEMU's multiboot loader), its command line, and the QEMU command line with the dom0 kernel
// and its initrd as multiboot modules. Used by the xenolinux backend (docs/xenolinux.md).
#pragma once

#include "cli.hpp"

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

namespace afterburn::launcher {

// Where Debian's xen-hypervisor-4.17-amd64 puts the hypervisor ($AFTERBURN_XEN_GZ overrides).
std::filesystem::path xen_gz_path();

struct XenError {
    std::string message;
};

// The gunzipped hypervisor in CACHE_DIR (made once, redone when the .gz is newer).
std::variant<std::filesystem::path, XenError> unpacked_xen(const std::filesystem::path& xen_gz,
                                                           const std::filesystem::path& cache_dir);

// Xen's own command line: console on COM1 (which QEMU wires to stdio), a dom0 of DOM0_MB MiB
// with one vCPU, and nothing that probes hardware QEMU does not have.
std::string xen_command_line(unsigned dom0_mb);

// The QEMU command line: Xen as the multiboot kernel; modules (QEMU's "-initrd" list) are the
// dom0 kernel with its command line, then the initrd if any. Paths must not hold ',' or ' '
// (QEMU's separators): dom0_module_problem() says so first.
std::vector<std::string> xen_dom0_qemu_argv(const BootOptions& options, const std::filesystem::path& xen,
                                            const std::string& dom0_cmdline);
std::string dom0_module_problem(const BootOptions& options);

// The QEMU CPU model for a Xen host: "max" (the default) becomes "max,-smap"; others stay.
std::string xen_dom0_cpu(const std::string& cpu);

} // namespace afterburn::launcher
