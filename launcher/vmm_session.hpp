// Runs the program that hosts a guest and watches the guest's serial console on its stdout:
// the success marker, a failure marker, a crash, the program's exit, or the timeout decide.
#pragma once

#include "cli.hpp"
#include "process.hpp"

#include <optional>
#include <string>
#include <vector>

namespace afterburn::launcher {

struct VmmKind {
    std::string name;                                // "QEMU", "nested KVM runner", ...
    std::string (*describe_exit)(const ExitStatus&);  // its exit status in words
    std::optional<int> unavailable_status;           // exit status meaning "cannot run here"
};

// QEMU's exit status in words (isa-debug-exit values decoded).
std::string describe_qemu_exit(const ExitStatus& st);

// Returns an ExitCode (backend.hpp).
int run_vmm(const std::vector<std::string>& argv, const BootOptions& options, const VmmKind& vmm);

} // namespace afterburn::launcher
