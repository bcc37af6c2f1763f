// The CPU state the 64-bit boot protocol asks for: long mode, paging with low memory
// identity-mapped, a flat GDT with __BOOT_CS = 0x10 and __BOOT_DS = 0x18, interrupts
// off, RIP = entry, RSI = boot_params.
#pragma once
#include <linux/kvm.h>

#include <cstdint>

#include "guest_memory.h"

namespace afterburn::kvm {

// Writes the GDT, TSS and identity page tables (0..4 GiB, 2 MiB pages) to guest memory.
void write_long_mode_tables(guest_memory& mem);
// Adds a mapping of virtual [va, va + size) to physical pa with 2 MiB pages (PS) to the
// tables write_long_mode_tables wrote, taking new table pages from layout::extra_tables.
// va and pa must be congruent modulo 2 MiB; the range must not touch PML4[0] (the identity
// map) or an existing different mapping. Throws fatal_error(exit_bad_image) otherwise.
void add_2m_mapping(guest_memory& mem, uint64_t va, uint64_t pa, uint64_t size);
// Fills in the segment, control and descriptor-table registers (other fields of
// `sregs`, e.g. the APIC base, are left as KVM reported them).
void set_long_mode_sregs(kvm_sregs& sregs);
// General registers at entry.
kvm_regs entry_regs(uint64_t entry, uint64_t boot_params);

}  // namespace afterburn::kvm
