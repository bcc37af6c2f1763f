#include "gate_check.h"

#include <array>

#include "wedge/cpuid_policy.h"

namespace afterburn {

namespace {

using wedge::cpuid_regs;

// A CPU with everything: every basic, extended and hypervisor leaf exists and every bit is
// set, so whatever the policy lets through on some real CPU it lets through here.
cpuid_regs every_feature(uint32_t leaf, uint32_t, void *)
{
    if (leaf == 0) return {0x21, ~0u, ~0u, ~0u};
    if (leaf == 0x80000000u) return {0x80000021u, ~0u, ~0u, ~0u};
    if (leaf == 0x40000000u) return {0x40000010u, ~0u, ~0u, ~0u};
    return {~0u, ~0u, ~0u, ~0u};
}

uint32_t reg_of(const cpuid_regs &r, uint8_t reg)
{
    return reg == 0 ? r.eax : reg == 1 ? r.ebx : reg == 2 ? r.ecx : r.edx;
}

// Whether a guest that asks CPUID as the manuals say (max leaf first) sees the gate.
bool guest_sees(const wedge::cpuid_policy &p, const cpuid_gate &g)
{
    wedge::cpuid_dynamic now;
    bool hypervisor_range = g.leaf >= 0x40000000u && g.leaf < 0x50000000u;
    if (!hypervisor_range) {
        uint32_t max = p.query(g.leaf & 0x80000000u, 0, now).eax;
        if (g.leaf > max) return false;
    }
    uint32_t v = reg_of(p.query(g.leaf, g.subleaf, now), g.reg);
    return g.bit == gate_whole_register ? v != 0 : ((v >> g.bit) & 1) != 0;
}

} // namespace

gate_verdict check_gate(gated_class c)
{
    static const std::array<bool, gated_class_count> seen = [] {
        static wedge::cpuid_policy policy;  // large: not on the stack
        policy.build(every_feature, nullptr);
        std::array<bool, gated_class_count> s{};
        for (unsigned i = 0; i < gated_class_count; ++i) s[i] = guest_sees(policy, gated_classes[i].gate);
        return s;
    }();
    const gated_class_info *info = gated_class_of(c);
    if (!info) return {false, "unknown gated class"};
    std::string gate = info->gate.name;
    if (!seen[static_cast<unsigned>(c)])
        return {true, gate + " hidden by the wedge's CPUID policy (checked): " + info->what};
    if (!info->privileged)
        return {true, "unprivileged, never intercepted, runs natively; " + gate +
                          " passed through by the wedge's CPUID policy (checked): " + info->what};
    return {false, gate + " is visible through the wedge's CPUID policy, yet " + info->name +
                       " is privileged and never annotated"};
}

} // namespace afterburn
