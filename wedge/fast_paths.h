// What a backend's fast paths read from the vCPU page (docs/wedge-abi.md, "Fast paths"): entry
// stubs that finish a site without the core (the Xen wedge's sti, pushf/popf, rdtsc/rdtscp)
// must give exactly what the core would, so they run only while the page says the core's
// answer needs nothing else, and read the state they need from there.
#pragma once

#include "wedge/vcpu.h"

namespace afterburn::wedge {

// What stays true for the whole run, found once (a CPUID policy lookup costs more than the
// rest of publish_fast_paths together).
struct fast_path_facts {
    bool flag_sites_64_bit = false;  // no 16-bit pushf/popf among the rewritten sites
    bool rdtscp = false;             // the CPUID policy shows rdtscp
};
fast_path_facts find_fast_path_facts(const vcpu &cpu, bool flag_sites_64_bit);

// Fills the page's fast-path bytes from the vCPU: inline_flags (pushf/popf: CPL 0, IOPL 0,
// 64-bit operands), inline_sti (sti cannot fault: CPL <= IOPL), inline_tsc (rdtsc/rdtscp
// cannot fault: CPL 0 or CR4.TSD clear; rdtscp only where CPUID shows it) and the TSC offset
// and TSC_AUX. The backend calls it on every way back into the guest, after which no site has
// run without the core.
void publish_fast_paths(vcpu &cpu, const fast_path_facts &facts);

} // namespace afterburn::wedge
