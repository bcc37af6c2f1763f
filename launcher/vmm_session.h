// Runs the program that hosts a guest and watches the guest's serial console on its stdout:
// the success marker, a failure marker, a crash, the program's exit, or the timeout decide.
#pragma once

#include "cli.h"
#include "process.h"

#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

// How a VMM's run ended, in words: its exit status and the console lines it asked to keep.
using describe_exit_fn = std::string (*)(const exit_status&, const std::vector<std::string>& remembered_lines);

struct vmm_kind {
    std::string name;                       // "QEMU", "nested KVM runner", ...
    describe_exit_fn describe_exit;         // its exit status in words
    std::optional<int> unavailable_status;  // exit status meaning "cannot run here"
    std::string remember_prefix = {};       // console lines starting with this reach describe_exit
};

// QEMU's exit status in words (isa-debug-exit values decoded).
std::string describe_qemu_exit(const exit_status& st);
std::string describe_qemu_exit(const exit_status& st, const std::vector<std::string>&);

// Returns an exit_code (backend.h).
int run_vmm(const std::vector<std::string>& argv, const boot_options& options, const vmm_kind& vmm);

} // namespace afterburn::launcher
