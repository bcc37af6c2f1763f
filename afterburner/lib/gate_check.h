// Why a CPUID-gated instruction (gated_class.h) may stay unannotated, checked rather than
// asserted: its gate is looked up in the wedge's own CPUID policy (wedge/cpuid_policy),
// built over a CPU that reports every feature and a hypervisor signature. A privileged class
// whose gate the policy lets through is not explained.
#pragma once

#include <string>

#include "afterburn/gated_class.h"

namespace afterburn {

struct gate_verdict {
    bool explained = false;
    std::string reason;  // for the scan report: what was checked and what it showed
};

gate_verdict check_gate(gated_class c);

} // namespace afterburn
