// afterburn-kvm's exit status in words (docs/kvm-backend-notes.md, "Exit status"): the direct
// run's, and the nested run's from the L1's result line.
#pragma once

#include "process.h"

#include <string>
#include <vector>

namespace afterburn::launcher {

std::string describe_afterburn_kvm_exit(const exit_status& st);
std::string describe_afterburn_kvm_exit(const exit_status& st, const std::vector<std::string>&);

} // namespace afterburn::launcher
