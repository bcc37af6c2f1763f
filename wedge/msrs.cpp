#include "wedge/msrs.h"

#include "wedge/devices/local_apic.h"
#include "wedge/guest_memory.h"

namespace afterburn::wedge {

namespace {

constexpr uint64_t misc_enable_fast_strings = 1, misc_enable_bts_unavailable = 1u << 11,
                   misc_enable_pebs_unavailable = 1u << 12;
constexpr uint64_t misc_enable_value =
    misc_enable_fast_strings | misc_enable_bts_unavailable | misc_enable_pebs_unavailable;

bool valid_pat(uint64_t pat)
{
    for (unsigned i = 0; i < 8; ++i) {
        unsigned type = (pat >> (8 * i)) & 0xff;
        if (type == 2 || type == 3 || type > 7) return false;  // reserved memory types
    }
    return true;
}

bool has_tsc_aux(const vcpu &cpu) { return cpu.cpuid.has(feature::rdtscp) || cpu.cpuid.has(feature::rdpid); }

} // namespace

bool read_msr(vcpu &cpu, backend &be, uint32_t index, uint64_t &value)
{
    switch (index) {
    case msr::tsc: value = be.read_tsc() + static_cast<uint64_t>(cpu.tsc_offset); return true;
    case msr::apic_base: value = cpu.apic_base; return true;
    case msr::ucode_rev: value = 0; return true;
    case msr::sysenter_cs: value = cpu.sysenter_cs; return true;
    case msr::sysenter_esp: value = cpu.sysenter_esp; return true;
    case msr::sysenter_eip: value = cpu.sysenter_eip; return true;
    case msr::misc_enable: value = misc_enable_value; return true;
    case msr::pat: value = cpu.pat; return true;
    case msr::efer: value = cpu.efer; return true;
    case msr::star: value = cpu.star; return true;
    case msr::lstar: value = cpu.lstar; return true;
    case msr::cstar: value = cpu.cstar; return true;
    case msr::fmask: value = cpu.fmask; return true;
    case msr::fs_base: value = cpu.fs_base; return true;
    case msr::gs_base: value = cpu.gs_base; return true;
    case msr::kernel_gs_base: value = cpu.kernel_gs_base; return true;
    case msr::tsc_aux:
        if (!has_tsc_aux(cpu)) return false;
        value = cpu.tsc_aux;
        return true;
    case msr::amd_int_pending_msg:
        // AMD's interrupt-pending-message MSR (K8, family 10h). With OSVW hidden, Linux decides
        // erratum 400 by family and model, which QEMU's AMD models match, and then reads it
        // unguarded: 0 says no C1E or SMI messages are enabled, so nothing needs the workaround.
        if (!cpu.cpuid.is_amd()) return false;
        value = 0;
        return true;
    default:
        if (index >= local_apic::x2apic_msr_first && index <= local_apic::x2apic_msr_last)
            return cpu.apic && cpu.apic->read_msr(index, value);
        return false;
    }
}

bool write_msr(vcpu &cpu, backend &be, uint32_t index, uint64_t value)
{
    switch (index) {
    case msr::tsc: cpu.tsc_offset = static_cast<int64_t>(value - be.read_tsc()); return true;
    case msr::apic_base: {
        uint64_t reserved = 0xffull | (1u << 9) | ~((1ull << cpu.cpuid.physical_address_bits()) - 1);
        if (value & reserved) return false;
        bool en = value & apic_base_msr::enable, extd = value & apic_base_msr::extd;
        bool was_extd = cpu.apic_base & apic_base_msr::extd;
        if (extd && !en) return false;                                   // invalid state
        if (extd && !cpu.cpuid.has(feature::x2apic)) return false;
        if (was_extd && en && !extd) return false;                        // x2APIC -> xAPIC needs a disable
        cpu.apic_base = (value & ~apic_base_msr::bsp) | (cpu.apic_base & apic_base_msr::bsp);
        return true;
    }
    case msr::ucode_rev: return true;  // "load revision 0": nothing to load
    case msr::sysenter_cs: cpu.sysenter_cs = value & 0xffff; break;
    case msr::sysenter_esp:
        if (!is_canonical(value)) return false;
        cpu.sysenter_esp = value;
        break;
    case msr::sysenter_eip:
        if (!is_canonical(value)) return false;
        cpu.sysenter_eip = value;
        break;
    case msr::misc_enable: return value == misc_enable_value;
    case msr::pat:
        if (!valid_pat(value)) return false;
        cpu.pat = value;
        return true;
    case msr::efer: {
        uint64_t allowed = efer::sce | efer::lme | efer::lma | (cpu.cpuid.has(feature::nx) ? efer::nxe : 0);
        if (value & ~allowed) return false;
        if ((cpu.cr0 & cr0::pg) && ((value ^ cpu.efer) & efer::lme)) return false;  // LME fixed while paging
        cpu.efer = (value & ~efer::lma) | (cpu.efer & efer::lma);                  // LMA is read-only
        return true;
    }
    case msr::star: cpu.star = value; break;
    case msr::lstar:
    case msr::cstar:
        if (!is_canonical(value)) return false;
        (index == msr::lstar ? cpu.lstar : cpu.cstar) = value;
        break;
    case msr::fmask:
        if (value >> 32) return false;
        cpu.fmask = value;
        break;
    case msr::fs_base:
    case msr::gs_base:
    case msr::kernel_gs_base:
        if (!is_canonical(value)) return false;
        if (index == msr::fs_base) {
            cpu.fs_base = value;
            be.state_changed(cpu, state_change::fs_base);
        } else if (index == msr::gs_base) {
            cpu.gs_base = value;
            be.state_changed(cpu, state_change::gs_base);
        } else {
            cpu.kernel_gs_base = value;
            be.state_changed(cpu, state_change::kernel_gs_base);
        }
        return true;
    case msr::tsc_aux:
        if (!has_tsc_aux(cpu) || (value >> 32)) return false;
        cpu.tsc_aux = value;
        return true;
    default:
        if (index >= local_apic::x2apic_msr_first && index <= local_apic::x2apic_msr_last)
            return cpu.apic && cpu.apic->write_msr(index, value);
        return false;
    }
    be.state_changed(cpu, state_change::syscall_entry);  // STAR/LSTAR/CSTAR/FMASK/SYSENTER_*
    return true;
}

} // namespace afterburn::wedge
