#include "long_mode.h"

#include <cstring>

#include "boot_layout.h"
#include "exit_codes.h"

namespace afterburn::kvm {

namespace {
constexpr uint16_t kBootCs = 0x10, kBootDs = 0x18, kTssSel = 0x20;
constexpr uint64_t kTssLimit = 0x67;
uint64_t g_next_table = layout::kExtraTables;   // add_2m_mapping's page-table allocator

constexpr uint64_t CR0_PE = 1ull << 0, CR0_ET = 1ull << 4, CR0_NE = 1ull << 5, CR0_PG = 1ull << 31;
constexpr uint64_t CR4_PAE = 1ull << 5;
constexpr uint64_t EFER_LME = 1ull << 8, EFER_LMA = 1ull << 10;
constexpr uint64_t PTE_P = 1, PTE_RW = 2, PTE_PS = 0x80;

// Descriptor for base 0, limit 0xfffff pages: access byte and flags nibble.
constexpr uint64_t flat_desc(uint8_t access, uint8_t flags) {
    return 0xffffull | (uint64_t(access) << 40) | (0xfull << 48) | (uint64_t(flags) << 52);
}

uint8_t* need(GuestMemory& mem, uint64_t gpa, uint64_t len) {
    uint8_t* p = mem.at(gpa, len);
    if (!p) throw Error(kUsage, "guest memory too small for the boot page tables");
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

void write_long_mode_tables(GuestMemory& mem) {
    g_next_table = layout::kExtraTables;
    uint64_t gdt[6] = {};
    gdt[2] = flat_desc(0x9b, 0xa);   // __BOOT_CS: present, ring 0, code execute/read, accessed; G, L
    gdt[3] = flat_desc(0x93, 0xc);   // __BOOT_DS: present, ring 0, data read/write, accessed; G, D/B
    // 64-bit TSS descriptor (16 bytes): type 0xb (busy), present.
    gdt[4] = kTssLimit | ((layout::kTss & 0xffffff) << 16) | (0x8bull << 40) | ((layout::kTss >> 24 & 0xff) << 56);
    gdt[5] = layout::kTss >> 32;
    std::memcpy(need(mem, layout::kGdt, sizeof gdt), gdt, sizeof gdt);
    std::memset(need(mem, layout::kTss, kTssLimit + 1), 0, kTssLimit + 1);

    uint64_t* pml4 = reinterpret_cast<uint64_t*>(need(mem, layout::kPml4, 4096));
    uint64_t* pdpt = reinterpret_cast<uint64_t*>(need(mem, layout::kPdpt, 4096));
    uint64_t* pd = reinterpret_cast<uint64_t*>(need(mem, layout::kPd, 4 * 4096));
    std::memset(pml4, 0, 4096);
    std::memset(pdpt, 0, 4096);
    pml4[0] = layout::kPdpt | PTE_P | PTE_RW;
    for (uint64_t g = 0; g < 4; g++) {
        pdpt[g] = (layout::kPd + g * 4096) | PTE_P | PTE_RW;
        for (uint64_t i = 0; i < 512; i++)
            pd[g * 512 + i] = ((g << 30) | (i << 21)) | PTE_P | PTE_RW | PTE_PS;
    }
}

namespace {

uint64_t* table_at(GuestMemory& mem, uint64_t pa) { return reinterpret_cast<uint64_t*>(need(mem, pa, 4096)); }

// The table an entry points to, allocating it if the entry is empty.
uint64_t next_level(GuestMemory& mem, uint64_t& entry, uint64_t va) {
    if (entry & PTE_P) {
        if (entry & PTE_PS) throw Error(kBadImage, "high mapping of " + std::to_string(va) + " crosses a large page");
        return entry & 0x000ffffffffff000ull;
    }
    if (g_next_table >= layout::kExtraTablesEnd)
        throw Error(kBadImage, "too many high mappings for the launcher's page-table area");
    uint64_t pa = g_next_table;
    g_next_table += 4096;
    std::memset(table_at(mem, pa), 0, 4096);
    entry = pa | PTE_P | PTE_RW;
    return pa;
}
}  // namespace

void add_2m_mapping(GuestMemory& mem, uint64_t va, uint64_t pa, uint64_t size) {
    constexpr uint64_t M2 = 2ull << 20;
    if ((va ^ pa) & (M2 - 1))
        throw Error(kBadImage, "virtual and physical load addresses differ modulo 2 MiB: cannot map with 2 MiB pages");
    if (size == 0) return;
    uint64_t v = va & ~(M2 - 1), p = pa & ~(M2 - 1);
    uint64_t pages = ((va + size - 1) - v) / M2 + 1;   // va + size - 1 does not wrap at the top
    for (uint64_t n = 0; n < pages; n++, v += M2, p += M2) {
        unsigned i4 = (v >> 39) & 511, i3 = (v >> 30) & 511, i2 = (v >> 21) & 511;
        if (i4 == 0) throw Error(kBadImage, "virtual address in PML4[0], where the identity map is");
        uint64_t* l4 = table_at(mem, layout::kPml4);
        uint64_t* l3 = table_at(mem, next_level(mem, l4[i4], v));
        uint64_t* l2 = table_at(mem, next_level(mem, l3[i3], v));
        uint64_t want = p | PTE_P | PTE_RW | PTE_PS;
        if ((l2[i2] & PTE_P) && l2[i2] != want)
            throw Error(kBadImage, "two different mappings for one 2 MiB page of the high address space");
        l2[i2] = want;
    }
}

void set_long_mode_sregs(kvm_sregs& sr) {
    sr.cs = flat_segment(kBootCs, 0xb, true);
    sr.ds = sr.es = sr.ss = sr.fs = sr.gs = flat_segment(kBootDs, 0x3, false);
    kvm_segment tr{};
    tr.base = layout::kTss;
    tr.limit = kTssLimit;
    tr.selector = kTssSel;
    tr.type = 0xb;   // busy 64-bit TSS
    tr.present = 1;
    sr.tr = tr;
    kvm_segment ldt{};
    ldt.type = 0x2;
    ldt.unusable = 1;
    sr.ldt = ldt;
    sr.gdt.base = layout::kGdt;
    sr.gdt.limit = 6 * 8 - 1;
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
    sr.cr3 = layout::kPml4;
    sr.cr4 = CR4_PAE;
    sr.efer = EFER_LME | EFER_LMA;
}

kvm_regs entry_regs(uint64_t entry, uint64_t boot_params) {
    kvm_regs r{};
    r.rip = entry;
    r.rsi = boot_params;
    r.rsp = layout::kStackTop;
    r.rflags = 0x2;   // reserved bit 1; IF = 0
    return r;
}

}  // namespace afterburn::kvm
