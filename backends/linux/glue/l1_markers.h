// What the L1's /init (backends/linux/l1/init.sh) reports on its console, one marker line each:
//   AFTERBURN-L1-INIT uptime=S                the L1 kernel reached /init
//   AFTERBURN-L1-KVM uptime=S ...             modules loaded, /dev/kvm present
//   AFTERBURN-L1-SKIP: reason                 nested KVM cannot run: the L1 CPU has no SVM
//   AFTERBURN-L1-ERROR: reason                the L1 system is broken (a module, /dev/kvm)
//   AFTERBURN-L1-RESULT status=N seconds=S    afterburn-kvm's exit status and run time
// The first line of each kind counts.
#pragma once

#include "process.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afterburn::launcher {

inline constexpr std::string_view l1_marker_prefix = "AFTERBURN-L1";

struct l1_report {
    std::optional<double> init_at, kvm_at, result_at; // when the marker arrived (from AT)
    std::optional<int> result_status;                 // afterburn-kvm's exit status
    std::optional<std::string> skip_reason, error_reason;
};

// LINES are console lines (without line ends); AT, when given, holds each one's arrival time.
l1_report parse_l1_markers(const std::vector<std::string>& lines, const std::vector<double>& at = {});

// How a nested run ended, in words, from QEMU's status and the L1's marker lines: the L1's
// error, else afterburn-kvm's status from the result line, else "the L1 gave no result".
std::string describe_l1_exit(const exit_status& qemu, const std::vector<std::string>& marker_lines);

} // namespace afterburn::launcher
