// The QEMU command lines `afterburn boot` starts: one TCG machine shape (tcg_qemu_argv), which
// the native backend and the nested KVM backend's L1 fill in.
#pragma once

#include "cli.h"
#include "image.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

// The QEMU binary: $AFTERBURN_QEMU if set (tests substitute a fake), else qemu-system-x86_64.
std::string qemu_binary();

// The kernel command line actually used: --append, else console=ttyS0 for Linux images.
std::optional<std::string> effective_append(const boot_options& options, const image_info& image);

// A QEMU TCG machine: direct kernel boot, COM1 on stdio (the console we watch), no monitor, the
// isa-debug-exit device at 0xf4 (a guest `out` of v ends QEMU with status (v << 1) | 1), and a
// reset ends QEMU (-no-reboot). EXTRA goes last, verbatim.
struct tcg_machine {
    std::string cpu = "max";
    unsigned memory_mb = 256;
    std::filesystem::path kernel;
    std::optional<std::filesystem::path> initrd;
    std::optional<std::string> append;
    std::vector<std::string> extra;
};

std::vector<std::string> tcg_qemu_argv(const tcg_machine& machine);

// The native backend's: the image itself is the TCG machine's kernel.
std::vector<std::string> native_qemu_argv(const boot_options& options, const image_info& image);

// For logs: the argv joined with shell-style quoting where needed.
std::string shell_quote_join(const std::vector<std::string>& argv);

} // namespace afterburn::launcher
