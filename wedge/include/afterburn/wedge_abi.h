// Where the wedge meets a rewritten guest: the fixed addresses rewritten sites refer to.
// Freestanding; shared by the load-time rewriter, the host tool `afterburn rewrite` and the
// wedge itself. Specified in docs/wedge-abi.md.
#pragma once

#include <stdint.h>

#include "afterburn/site_kind.h"

namespace afterburn::wedge_abi {

// The entry window: the top 2 MiB of the address space, which Linux x86-64 leaves unused
// (Documentation/x86/x86_64/mm.rst: "unused hole" above the vsyscall page) and which lies
// within +-2 GiB of kernel text (-mcmodel=kernel), so a `call rel32` from any site reaches it
// and a sign-extended 32-bit absolute address names it.
inline constexpr uint64_t window_base = 0xffffffffffe00000ull;
inline constexpr uint64_t window_size = 0x200000;

// One 64-byte entry stub per site kind: a rewritten site calls entry(kind). The stub finds
// the site's record from its return address and emulates it.
inline constexpr uint64_t entry_stride = 64;
constexpr uint64_t entry(site_kind k) { return window_base + entry_stride * static_cast<uint64_t>(k); }

// A table of 8-byte pointers to the same entries, for position-independent indirect calls
// (`call *slot(kind)`) in .altinstr_replacement, whose bytes Linux copies elsewhere.
inline constexpr uint64_t slot_table = window_base + 0x10000;
constexpr uint64_t slot(site_kind k) { return slot_table + 8 * static_cast<uint64_t>(k); }

// The running vCPU's virtual interrupt flag: one byte, 0 = interrupts masked, 1 = enabled.
// Each vCPU maps its own state page here, so inline `cli` is a single store.
inline constexpr uint64_t vcpu_page = window_base + 0x20000;
inline constexpr uint64_t vcpu_virtual_if = vcpu_page + 0;
inline constexpr uint64_t vcpu_pending = vcpu_page + 1;  // nonzero: a virtual interrupt waits
// Nonzero: the pushf/popf entries may finish in the entry window, without the core (the
// backend sets it while that gives what the core would: virtual IOPL 0, 64-bit operands).
inline constexpr uint64_t vcpu_inline_flags = vcpu_page + 2;
// Nonzero: the sti entry may finish in the entry window (the backend sets it while sti cannot
// fault: virtual CPL <= IOPL).
inline constexpr uint64_t vcpu_inline_sti = vcpu_page + 3;
// 8 bytes: where the last sti the entry window finished by itself ended. The instruction there
// is in that sti's interrupt shadow until it has run, so an event that finds the guest at this
// rip waits one instruction (wedge::note_inline_sti_shadow).
inline constexpr uint64_t vcpu_inline_sti_end = vcpu_page + 8;
// Bit 0: the rdtsc entry may finish in the entry window, bit 1: the rdtscp entry (the backend
// sets them while neither can fault: CPL 0 or CR4.TSD clear; rdtscp also needs CPUID to show it).
inline constexpr uint64_t vcpu_inline_tsc = vcpu_page + 4;
inline constexpr uint8_t inline_tsc_rdtsc = 1, inline_tsc_rdtscp = 2;
// 8 bytes: the guest's TSC minus the real one (IA32_TSC writes move it); 4 bytes: its TSC_AUX.
inline constexpr uint64_t vcpu_tsc_offset = vcpu_page + 16;
inline constexpr uint64_t vcpu_tsc_aux = vcpu_page + 24;

// The L4 backend's window (docs/l4-backend.md): the top 2 GiB are Pistachio's kernel half,
// so the L4 wedge runs the guest at its load address and places the same layout (entries,
// slots, vCPU page, at the offsets above) just below 2 GiB, where sign-extended 32-bit
// absolute addresses still name it; every site calls through its slot (`call *abs32`), which
// is the same bytes wherever the image runs.
inline constexpr uint64_t l4_window_base = 0x7fe00000ull;
constexpr uint64_t relocated(uint64_t window_address, uint64_t new_base)
{
    return window_address - window_base + new_base;
}

} // namespace afterburn::wedge_abi
