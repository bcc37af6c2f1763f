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
using DescribeExit = std::string (*)(const ExitStatus&, const std::vector<std::string>& remembered_lines);

struct VmmKind {
    std::string name;                       // "QEMU", "nested KVM runner", ...
    DescribeExit describe_exit;             // its exit status in words
    std::optional<int> unavailable_status;  // exit status meaning "cannot run here"
    std::string remember_prefix = {};       // console lines starting with this reach describe_exit
};

// QEMU's exit status in words (isa-debug-exit values decoded).
std::string describe_qemu_exit(const ExitStatus& st);
std::string describe_qemu_exit(const ExitStatus& st, const std::vector<std::string>&);

// Returns an ExitCode (backend.h).
int run_vmm(const std::vector<std::string>& argv, const BootOptions& options, const VmmKind& vmm);

} // namespace afterburn::launcher
