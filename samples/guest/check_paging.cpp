// Paging with tables the guest built: mappings, invlpg, accessed/dirty bits and #PF
// (CR2 and error code). All test pages live in TEST_VA's window, one page per check.
#include "checks.h"
#include "kernel.h"

extern "C" void probe_load(u64 addr);
extern "C" void probe_store(u64 addr, u64 v);
extern "C" void probe_exec(u64 addr);
extern "C" u8 _text[];

namespace {
u64* new_frame(u64 fill) {
    u64* f = static_cast<u64*>(alloc_page());
    for (int i = 0; i < 512; i++) f[i] = fill + i;
    return f;
}
volatile u64& at(u64 va) { return *reinterpret_cast<volatile u64*>(va); }
enum : u64 { pf_p = 1, pf_w = 2, pf_u = 4, pf_i = 16 };
}  // namespace

void check_paging_map() {
    // The image is reachable through both the kernel map and the direct map.
    u64 direct = *static_cast<volatile u64*>(phys_to_virt(kpa(_text)));
    expect_eq("image word via the direct map", direct, *reinterpret_cast<volatile u64*>(_text));
    u64* f1 = new_frame(0x1100);
    u64* f2 = new_frame(0x2200);
    map_page(kernel_cr3(), TEST_VA, page_pa(broken() ? f2 : f1), pte_p | pte_w);  // break: other frame
    expect_eq("read through the new mapping", at(TEST_VA), 0x1100);
    at(TEST_VA + 8) = 0x3333;
    expect_eq("write through the new mapping, read via the frame", f1[1], 0x3333);
}

void check_paging_invlpg() {
    u64 va = TEST_VA + 0x1000;
    u64* f1 = new_frame(0xa100);
    u64* f2 = new_frame(0xb200);
    map_page(kernel_cr3(), va, page_pa(f1), pte_p | pte_w);
    u64 first = at(va);                            // now cached in the TLB
    *pte_walk(kernel_cr3(), va, false) = page_pa(f2) | pte_p | pte_w;
    if (!broken()) x86::invlpg(va);                // break: no invlpg (stale TLB entry)
    u64 second = at(va);
    expect_eq("before the remap", first, 0xa100);
    expect_eq("after remap + invlpg", second, 0xb200);
}

void check_paging_accessed() {
    u64 va = TEST_VA + 0x2000;
    map_page(kernel_cr3(), va, page_pa(new_frame(0)), pte_p | pte_w);
    volatile u64* pte = pte_walk(kernel_cr3(), va, false);
    *pte = *pte & ~(pte_a | pte_d);
    x86::invlpg(va);
    u64 sink = at(va);
    (void)sink;
    if (broken()) *pte = *pte & ~pte_a;                  // break: clear A behind the CPU's back
    u64 e = *pte;
    expect_eq("PTE.A after a read", e & pte_a, pte_a);
    expect_eq("PTE.D after a read", e & pte_d, 0);
}

void check_paging_dirty() {
    u64 va = TEST_VA + 0x3000;
    map_page(kernel_cr3(), va, page_pa(new_frame(0)), pte_p | pte_w);
    volatile u64* pte = pte_walk(kernel_cr3(), va, false);
    *pte = *pte & ~(pte_a | pte_d);
    x86::invlpg(va);
    at(va) = 1;
    if (broken()) *pte = *pte & ~pte_d;                  // break: clear D behind the CPU's back
    u64 e = *pte;
    expect_eq("PTE.D after a write", e & pte_d, pte_d);
    expect_eq("PTE.A after a write", e & pte_a, pte_a);
}

void check_paging_notpresent() {
    u64 page = TEST_VA + 0x4000, va = page + 0x128;
    u64* f = new_frame(0x4400);
    map_page(kernel_cr3(), page, page_pa(f), broken() ? pte_p | pte_w : pte_w);  // break: present
    if (!TRAPS(14, probe_load(va))) return fail("read of a not-present page did not #PF");
    expect_eq("CR2", g_expect.cr2, va);
    expect_eq("#PF error code (read, not present)", g_expect.got.error, 0);
    expect_eq("#PF rip", g_expect.got.rip, (u64)probe_load);
    if (!TRAPS(14, probe_store(va, 5))) return fail("write to a not-present page did not #PF");
    expect_eq("CR2", g_expect.cr2, va);
    expect_eq("#PF error code (write, not present)", g_expect.got.error, pf_w);
}

void check_paging_protection() {
    u64 ro = TEST_VA + 0x5000;
    map_page(kernel_cr3(), ro, page_pa(new_frame(0)), broken() ? pte_p | pte_w : pte_p);  // break: writable
    if (!TRAPS(14, probe_store(ro + 16, 1))) return fail("write to a read-only page did not #PF (CR0.WP=1)");
    expect_eq("CR2", g_expect.cr2, ro + 16);
    expect_eq("#PF error code (write, present)", g_expect.got.error, pf_p | pf_w);

    // Instruction fetch: allowed without NX, #PF with I/D set with NX.
    u64 code = TEST_VA + 0x6000;
    u64* f = new_frame(0);
    f[0] = 0xc3;                                    // ret
    map_page(kernel_cr3(), code, page_pa(f), pte_p);
    if (TRAPS(14, probe_exec(code))) return fail("fetch from an executable page faulted");
    if (!(x86::rdmsr(x86::msr_efer) & x86::efer_nxe)) return;   // no NX on this CPU
    map_page(kernel_cr3(), code, page_pa(f), pte_p | pte_nx);
    if (!TRAPS(14, probe_exec(code))) return fail("fetch from an NX page did not #PF");
    expect_eq("CR2 (NX fetch)", g_expect.cr2, code);
    expect_eq("#PF rip (NX fetch)", g_expect.got.rip, code);
    expect_eq("#PF error code (fetch, present)", g_expect.got.error, pf_p | pf_i);
}
