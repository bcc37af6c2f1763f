// Booting a kernel as Xen's 64-bit PV dom0 under QEMU TCG: Debian's Xen 4.17 (gunzipped for
// QEMU's multiboot loader), its command line, the QEMU command line with the dom0 kernel and
// one more boot module, and how the run ended. Used by the xen, xen-dom0 and xenolinux backends
// (docs/xen-backend.md, docs/xenolinux.md).
#pragma once

#include "cli.h"
#include "process.h"

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace afterburn::launcher {

// Where Debian's xen-hypervisor-4.17-amd64 puts the hypervisor ($AFTERBURN_XEN_GZ overrides).
std::filesystem::path xen_gz_path();

// Where the gunzipped hypervisor is kept: $AFTERBURN_XEN_CACHE, else $XDG_CACHE_HOME/afterburn,
// else $HOME/.cache/afterburn; empty when none of them is set.
std::filesystem::path xen_cache_dir();

struct xen_error {
    std::string message;
};

// The gunzipped hypervisor in CACHE_DIR (made once, redone when the .gz is newer).
std::variant<std::filesystem::path, xen_error> unpacked_xen(const std::filesystem::path& xen_gz,
                                                            const std::filesystem::path& cache_dir);

// One dom0 boot: what the QEMU command line is made of.
struct dom0_boot {
    std::filesystem::path xen;                   // the gunzipped hypervisor (QEMU's -kernel)
    std::filesystem::path kernel;                // dom0's kernel: the first multiboot module
    std::string cmdline;                         // dom0's command line (start_info.cmd_line)
    std::optional<std::filesystem::path> module; // a second module: dom0's initrd, or the guest
    unsigned dom0_mb = 256;                      // dom0's memory; QEMU gets Xen's own on top
    std::string cpu = "max";                     // QEMU CPU model, verbatim
    std::string xen_options;                     // appended to Xen's own command line
    std::vector<std::string> qemu_args;          // appended to QEMU's command line
    bool dom0_is_wedge = false;                  // the run ends with the wedge's verdict
};

// Xen's own command line: console on COM1 (which QEMU wires to stdio), a dom0 of DOM0_MB MiB
// with one vCPU, and nothing that probes hardware QEMU does not have; then EXTRA.
std::string xen_command_line(unsigned dom0_mb, const std::string& extra = {});

// The QEMU command line: Xen as the multiboot kernel; modules (QEMU's "-initrd" list) are the
// dom0 kernel with its command line, then the second module if any.
std::vector<std::string> xen_dom0_qemu_argv(const dom0_boot& boot);

// Why BOOT cannot be put on QEMU's module list ("" if it can): a path holding ',' or ' ' or a
// command line holding ',' (QEMU's separators).
std::string dom0_module_problem(const dom0_boot& boot);

// The QEMU CPU model for a Linux dom0: "max" (the default) becomes "max,-smap"; others stay.
std::string xen_dom0_cpu(const std::string& cpu);

// How a Xen run ended, in words, from QEMU's status and the wedge's verdict lines
// ("xen-wedge: verdict N", "xen-wedge: verdict N via SCHEDOP_shutdown") when there are any:
// "the wedge's verdict N (isa-debug-exit)" or "(SCHEDOP_shutdown; QEMU status S)", else
// "Xen ended without a verdict from the wedge (...)" when the wedge spoke, else QEMU's status.
inline constexpr const char* wedge_verdict_prefix = "xen-wedge: verdict ";
std::string describe_xen_exit(const exit_status& st, const std::vector<std::string>& verdict_lines);
// The same for a run whose dom0 is the wedge: no verdict line at all is "Xen ended without a
// verdict from the wedge (QEMU ...)" too.
std::string describe_wedge_exit(const exit_status& st, const std::vector<std::string>& verdict_lines);

// Runs BOOT (BOOT.xen is filled in here): exit_unavailable when the hypervisor is not installed,
// exit_usage for paths QEMU cannot carry, else run_vmm's outcome.
int run_xen_dom0(dom0_boot boot, const boot_options& options);

} // namespace afterburn::launcher
