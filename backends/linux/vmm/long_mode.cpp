#include "long_mode.h"

#include <cstring>

#include "boot_layout.h"
#include "exit_codes.h"

namespace afterburn::kvm {

namespace {
constexpr uint16_t boot_cs = 0x10, boot_ds = 0x18, tss_selector = 0x20;
constexpr uint64_t tss_limit = 0x67;
uint64_t g_next_table = layout::extra_tables;   // add_2m_mapping's page-table allocator

constexpr uint64_t cr0_pe = 1ull << 0, cr0_et = 1ull << 4, cr0_ne = 1ull << 5, cr0_pg = 1ull << 31;
constexpr uint64_t cr4_pae = 1ull << 5;
constexpr uint64_t efer_lme = 1ull << 8, efer_lma = 1ull << 10;
constexpr uint64_t pte_p = 1, pte_rw = 2, pte_ps = 0x80;

// Descriptor for base 0, limit 0xfffff pages: access byte and flags nibble.
constexpr uint64_t flat_desc(uint8_t access, uint8_t flags) {
    return 0xffffull | (uint64_t(access) << 40) | (0xfull << 48) | (uint64_t(flags) << 52);
}

uint8_t* need(guest_memory& mem, uint64_t gpa, uint64_t len) {
    uint8_t* p = mem.at(gpa, len);
    if (!p) throw fatal_error(exit_usage, "guest memory too small for the boot page tables");
    return p;
}

kvm_segment flat_segment(uint16_t sel, uint8_t type, bool code) {
    kvm_segment s{};
    s.base = 0;
    s.limit = 0xffffffff;
    s.selector = sel;
    s.type = type;
    s.present = 1;
    s.dpl = 0;
    s.db = code ? 0 : 1;   // a 64-bit code segment has D = 0, L = 1
    s.s = 1;
    s.l = code ? 1 : 0;
    s.g = 1;
    return s;
}
}  // namespace

void write_long_mode_tables(guest_memory& mem) {
    g_next_table = layout::extra_tables;
    uint64_t gdt[6] = {};
    gdt[2] = flat_desc(0x9b, 0xa);   // __BOOT_CS: present, ring 0, code execute/read, accessed; G, L
    gdt[3] = flat_desc(0x93, 0xc);   // __BOOT_DS: present, ring 0, data read/write, accessed; G, D/B
    // 64-bit TSS descriptor (16 bytes): type 0xb (busy), present.
    gdt[4] = tss_limit | ((layout::tss & 0xffffff) << 16) | (0x8bull << 40) | ((layout::tss >> 24 & 0xff) << 56);
    gdt[5] = layout::tss >> 32;
    std::memcpy(need(mem, layout::gdt, sizeof gdt), gdt, sizeof gdt);
    std::memset(need(mem, layout::tss, tss_limit + 1), 0, tss_limit + 1);

    uint64_t* pml4 = reinterpret_cast<uint64_t*>(need(mem, layout::pml4, 4096));
    uint64_t* pdpt = reinterpret_cast<uint64_t*>(need(mem, layout::pdpt, 4096));
    uint64_t* pd = reinterpret_cast<uint64_t*>(need(mem, layout::pd, 4 * 4096));
    std::memset(pml4, 0, 4096);
    std::memset(pdpt, 0, 4096);
    pml4[0] = layout::pdpt | pte_p | pte_rw;
    for (uint64_t g = 0; g < 4; g++) {
        pdpt[g] = (layout::pd + g * 4096) | pte_p | pte_rw;
        for (uint64_t i = 0; i < 512; i++)
            pd[g * 512 + i] = ((g << 30) | (i << 21)) | pte_p | pte_rw | pte_ps;
    }
}

namespace {

uint64_t* table_at(guest_memory& mem, uint64_t pa) { return reinterpret_cast<uint64_t*>(need(mem, pa, 4096)); }

// The table an entry points to, allocating it if the entry is empty.
uint64_t next_level(guest_memory& mem, uint64_t& entry, uint64_t va) {
    if (entry & pte_p) {
        if (entry & pte_ps)
            throw fatal_error(exit_bad_image, "high mapping of " + std::to_string(va) + " crosses a large page");
        return entry & 0x000ffffffffff000ull;
    }
    if (g_next_table >= layout::extra_tables_end)
        throw fatal_error(exit_bad_image, "too many high mappings for the launcher's page-table area");
    uint64_t pa = g_next_table;
    g_next_table += 4096;
    std::memset(table_at(mem, pa), 0, 4096);
    entry = pa | pte_p | pte_rw;
    return pa;
}
}  // namespace

void add_2m_mapping(guest_memory& mem, uint64_t va, uint64_t pa, uint64_t size) {
    constexpr uint64_t two_mib = 2ull << 20;
    if ((va ^ pa) & (two_mib - 1))
        throw fatal_error(exit_bad_image,
                          "virtual and physical load addresses differ modulo 2 MiB: cannot map with 2 MiB pages");
    if (size == 0) return;
    uint64_t v = va & ~(two_mib - 1), p = pa & ~(two_mib - 1);
    uint64_t pages = ((va + size - 1) - v) / two_mib + 1;   // va + size - 1 does not wrap at the top
    for (uint64_t n = 0; n < pages; n++, v += two_mib, p += two_mib) {
        unsigned i4 = (v >> 39) & 511, i3 = (v >> 30) & 511, i2 = (v >> 21) & 511;
        if (i4 == 0) throw fatal_error(exit_bad_image, "virtual address in PML4[0], where the identity map is");
        uint64_t* l4 = table_at(mem, layout::pml4);
        uint64_t* l3 = table_at(mem, next_level(mem, l4[i4], v));
        uint64_t* l2 = table_at(mem, next_level(mem, l3[i3], v));
        uint64_t want = p | pte_p | pte_rw | pte_ps;
        if ((l2[i2] & pte_p) && l2[i2] != want)
            throw fatal_error(exit_bad_image, "two different mappings for one 2 MiB page of the high address space");
        l2[i2] = want;
    }
}

void set_long_mode_sregs(kvm_sregs& sr) {
    sr.cs = flat_segment(boot_cs, 0xb, true);
    sr.ds = sr.es = sr.ss = sr.fs = sr.gs = flat_segment(boot_ds, 0x3, false);
    kvm_segment tr{};
    tr.base = layout::tss;
    tr.limit = tss_limit;
    tr.selector = tss_selector;
    tr.type = 0xb;   // busy 64-bit TSS
    tr.present = 1;
    sr.tr = tr;
    kvm_segment ldt{};
    ldt.type = 0x2;
    ldt.unusable = 1;
    sr.ldt = ldt;
    sr.gdt.base = layout::gdt;
    sr.gdt.limit = 6 * 8 - 1;
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr0 = cr0_pe | cr0_et | cr0_ne | cr0_pg;
    sr.cr3 = layout::pml4;
    sr.cr4 = cr4_pae;
    sr.efer = efer_lme | efer_lma;
}

kvm_regs entry_regs(uint64_t entry, uint64_t boot_params) {
    kvm_regs r{};
    r.rip = entry;
    r.rsi = boot_params;
    r.rsp = layout::stack_top;
    r.rflags = 0x2;   // reserved bit 1; IF = 0
    return r;
}

}  // namespace afterburn::kvm
