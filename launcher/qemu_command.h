// The QEMU command line for the native backend (TCG, no hypervisor underneath).
#pragma once

#include "cli.h"
#include "image.h"

#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

// The QEMU binary: $AFTERBURN_QEMU if set (tests substitute a fake), else qemu-system-x86_64.
std::string qemu_binary();

// The kernel command line actually used: --append, else console=ttyS0 for Linux images.
std::optional<std::string> effective_append(const boot_options& options, const image_info& image);

std::vector<std::string> native_qemu_argv(const boot_options& options, const image_info& image);

// For logs: the argv joined with shell-style quoting where needed.
std::string shell_quote_join(const std::vector<std::string>& argv);

} // namespace afterburn::launcher
