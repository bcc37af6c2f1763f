// Where the launcher puts its boot data in guest-physical memory (all below 1 MiB,
// which the e820 map reports as RAM: the guest may reuse it once it has read
// boot_params, as Linux does).
#pragma once
#include <cstdint>

namespace afterburn::kvm::layout {

constexpr uint64_t gdt = 0x1000;             // flat GDT: 0x10 = __BOOT_CS, 0x18 = __BOOT_DS, 0x20 = TSS
constexpr uint64_t tss = 0x1800;             // 104-byte 64-bit TSS (only so TR is valid)
constexpr uint64_t stack_top = 0x7000;       // initial RSP (the protocol gives no stack)
constexpr uint64_t boot_params = 0x7000;     // struct boot_params ("zero page"), RSI at entry
constexpr uint64_t pml4 = 0x9000;            // identity map of 0..4 GiB: PML4, PDPT, 4 PDs
constexpr uint64_t pdpt = 0xa000;
constexpr uint64_t pd = 0xb000;              // 4 pages, 0xb000..0xefff, 2 MiB pages
constexpr uint64_t wedge_handoff = 0x8000;   // --wedge: struct kvm_wedge::handoff (RDI at wedge entry)
constexpr uint64_t extra_tables = 0x10000;   // --wedge: page-table pages for the high mappings
constexpr uint64_t extra_tables_end = 0x20000;
constexpr uint64_t cmdline = 0x20000;        // NUL-terminated command line
constexpr uint64_t cmdline_max = 2048;       // bytes including the NUL (boot_params cmdline_size)
constexpr uint64_t reserved_end = 0x100000;  // ELF segments must load at or above 1 MiB

}  // namespace afterburn::kvm::layout
