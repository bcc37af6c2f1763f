#include "wedge/fast_paths.h"

namespace afterburn::wedge {

fast_path_facts find_fast_path_facts(const vcpu &cpu, bool flag_sites_64_bit)
{
    return {flag_sites_64_bit, cpu.cpuid.has(feature::rdtscp)};
}

void publish_fast_paths(vcpu &cpu, const fast_path_facts &facts)
{
    abi_page &p = cpu.page;
    p.inline_flags = cpu.cpl == 0 && cpu.iopl == 0 && facts.flag_sites_64_bit;
    p.inline_sti = cpu.cpl <= cpu.iopl;
    uint8_t tsc = 0;
    if (cpu.cpl == 0 || !(cpu.cr4 & cr4::tsd)) {
        tsc = wedge_abi::inline_tsc_rdtsc;
        if (facts.rdtscp) tsc |= wedge_abi::inline_tsc_rdtscp;
    }
    p.inline_tsc = tsc;
    p.tsc_offset = cpu.tsc_offset;
    p.tsc_aux = static_cast<uint32_t>(cpu.tsc_aux);
}

} // namespace afterburn::wedge
