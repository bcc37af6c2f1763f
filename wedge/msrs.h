// The model-specific registers the wedge implements, as rdmsr/wrmsr see them. An MSR not
// listed here does not exist on the virtual CPU: rdmsr and wrmsr raise #GP(0), exactly as a
// CPU without it does (Linux's *_safe accessors rely on that).
//
// Implemented: IA32_TSC (0x10, through the vCPU's TSC offset), IA32_APIC_BASE (0x1b),
// IA32_UCODE_REV (0x8b, reads 0), IA32_SYSENTER_CS/ESP/EIP (0x174-0x176),
// IA32_MISC_ENABLE (0x1a0, fast strings only, read-mostly), IA32_PAT (0x277), EFER,
// STAR, LSTAR, CSTAR, FMASK, FS_BASE, GS_BASE, KERNEL_GS_BASE, TSC_AUX, and the x2APIC
// range 0x800-0x8ff (through the vCPU's local APIC).
#pragma once

#include <stdint.h>

#include "wedge/backend.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

namespace msr {
inline constexpr uint32_t tsc = 0x10, apic_base = 0x1b, ucode_rev = 0x8b, sysenter_cs = 0x174,
                          sysenter_esp = 0x175, sysenter_eip = 0x176, misc_enable = 0x1a0, pat = 0x277,
                          efer = 0xc0000080u, star = 0xc0000081u, lstar = 0xc0000082u, cstar = 0xc0000083u,
                          fmask = 0xc0000084u, fs_base = 0xc0000100u, gs_base = 0xc0000101u,
                          kernel_gs_base = 0xc0000102u, tsc_aux = 0xc0000103u,
                          amd_int_pending_msg = 0xc0010055u;
}

// False: #GP(0).
bool read_msr(vcpu &cpu, backend &be, uint32_t index, uint64_t &value);
bool write_msr(vcpu &cpu, backend &be, uint32_t index, uint64_t value);

} // namespace afterburn::wedge
