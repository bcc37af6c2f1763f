// Page tables built by the guest: a pool of page-table pages and frames from .bss,
// 4-level walks, and extra address spaces that share the kernel half.
#include "kernel.h"

namespace {
constexpr int pool_pages = 64;
alignas(4096) u8 g_pool[pool_pages][4096];
int g_pool_used;

u64* table(u64 pa) { return static_cast<u64*>(phys_to_virt(pa)); }
}  // namespace

void* alloc_page() {
    if (g_pool_used == pool_pages) {
        kprintf("guest: page pool exhausted\n");
        return nullptr;
    }
    void* p = g_pool[g_pool_used++];
    memset(p, 0, 4096);
    return p;
}

u64 page_pa(const void* page) { return kpa(page); }

u64 kernel_cr3() { return kpa(early_pml4); }

u64* pte_walk(u64 pml4_pa, u64 va, bool create) {
    u64* t = table(pml4_pa);
    for (int shift = 39; shift > 12; shift -= 9) {
        u64& e = t[(va >> shift) & 511];
        if (!(e & pte_p)) {
            if (!create) return nullptr;
            // Intermediate levels are permissive (as in Linux): the leaf decides.
            e = page_pa(alloc_page()) | pte_p | pte_w | pte_u;
        }
        if (e & pte_ps) return nullptr;   // a large page: no 4 KiB slot here
        t = table(e & pte_addr);
    }
    return &t[(va >> 12) & 511];
}

void map_page(u64 pml4_pa, u64 va, u64 pa, u64 flags) {
    u64* pte = pte_walk(pml4_pa, va, true);
    *pte = (pa & pte_addr) | flags;
    x86::invlpg(va);
}

u64 new_address_space() {
    u64* pml4 = static_cast<u64*>(alloc_page());
    for (int i = 256; i < 512; i++) pml4[i] = early_pml4[i];
    return page_pa(pml4);
}

void paging_init() {
    // Drop the boot identity map: from here on low memory is reached via DIRECT_MAP and
    // PML4[0] belongs to user space.
    early_pml4[0] = 0;
    x86::write_cr3(kernel_cr3());
    x86::write_cr0(x86::read_cr0() | x86::cr0_wp);
    if (x86::cpuid(0x80000001).d & (1u << 20))
        x86::wrmsr(x86::msr_efer, x86::rdmsr(x86::msr_efer) | x86::efer_nxe);
}
