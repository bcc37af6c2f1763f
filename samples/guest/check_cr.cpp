// Control registers: CR0.WP/TS, CR2, CR3 (two address spaces), CR4.TSD, CR8 <-> TPR.
#include "checks.h"
#include "kernel.h"

extern "C" void probe_store(u64 addr, u64 v);
extern "C" u8 user_rdtsc[];

void check_cr0() {
    u64 cr0 = x86::read_cr0();
    if (!(cr0 & x86::cr0_pe) || !(cr0 & x86::cr0_pg)) return fail("CR0 0x%lx lacks PE or PG", cr0);
    // CR0.WP decides whether ring 0 may write a read-only page.
    u64* frame = static_cast<u64*>(alloc_page());
    u64 va = TEST_VA + 0x7000;
    map_page(kernel_cr3(), va, page_pa(frame), pte_p);
    x86::write_cr0(broken() ? cr0 & ~x86::cr0_wp : cr0 | x86::cr0_wp);   // break: WP off
    bool wp = x86::read_cr0() & x86::cr0_wp;
    bool faulted = TRAPS(14, probe_store(va, 1));
    x86::write_cr0(cr0 & ~x86::cr0_wp);
    bool faulted_nowp = TRAPS(14, probe_store(va, 2));
    x86::write_cr0(cr0 | x86::cr0_ts);
    bool ts = x86::read_cr0() & x86::cr0_ts;
    asm volatile("clts" ::: "memory");
    bool ts_after_clts = x86::read_cr0() & x86::cr0_ts;
    x86::write_cr0(cr0);
    if (!wp) return fail("CR0.WP reads back 0 after setting it");
    if (!faulted) return fail("ring-0 write to a read-only page did not #PF with CR0.WP=1");
    if (faulted_nowp || frame[0] != 2) return fail("ring-0 write to a read-only page failed with CR0.WP=0");
    if (!ts || ts_after_clts) return fail("CR0.TS: set %d, after clts %d", ts, ts_after_clts);
}

void check_cr2() {
    constexpr u64 v = 0xffffc90012345678;
    x86::write_cr2(v);
    if (broken()) x86::write_cr2(v ^ 0x1000);      // break: clobber it again
    expect_eq("CR2", x86::read_cr2(), v);
}

void check_cr3() {
    // Two address spaces share the kernel half but map one page to different frames.
    constexpr u64 va = 0xffffca0000000000;         // PML4 slot the kernel does not use
    u64 a = new_address_space(), b = new_address_space();
    u64* fa = static_cast<u64*>(alloc_page());
    u64* fb = static_cast<u64*>(alloc_page());
    fa[0] = 0xaaaa;
    fb[0] = 0xbbbb;
    map_page(a, va, page_pa(fa), pte_p | pte_w);
    map_page(b, va, page_pa(fb), pte_p | pte_w);
    x86::write_cr3(a);
    u64 in_a = *(volatile u64*)va;
    if (!broken()) x86::write_cr3(b);              // break: stay in space A
    u64 in_b = *(volatile u64*)va;
    u64 cr3 = x86::read_cr3();
    x86::write_cr3(kernel_cr3());
    expect_eq("value in space A", in_a, 0xaaaa);
    expect_eq("CR3 after switching to B", cr3 & pte_addr, b);
    expect_eq("value in space B", in_b, 0xbbbb);
}

void check_cr4() {
    u64 cr4 = x86::read_cr4();
    if (!(cr4 & x86::cr4_pae)) return fail("CR4.PAE clear in long mode (CR4 0x%lx)", cr4);
    // CR4.TSD: rdtsc becomes ring-0 only.
    if (!broken()) x86::write_cr4(cr4 | x86::cr4_tsd);   // break: never set TSD
    if (!(x86::read_cr4() & x86::cr4_tsd)) return fail("CR4.TSD reads back 0 after setting it");
    run_user(user_rdtsc, 13);
    expect_eq("#GP error code of ring-3 rdtsc with TSD", g_expect.got.error, 0);
    expect_eq("#GP rip", g_expect.got.rip, user_va(user_rdtsc));
    x86::write_cr4(cr4 & ~x86::cr4_tsd);
    run_user(user_rdtsc, VEC_SYSCALL_INT);          // allowed again: reaches int $0x80
    x86::write_cr4(cr4);
}

namespace {
volatile u64 g_ipi_count;
void ipi_handler(trap_frame*) {
    g_ipi_count = g_ipi_count + 1;
    lapic::eoi();
}
}  // namespace

void check_cr8() {
    // CR8 is the task-priority class: it mirrors TPR[7:4] and holds back lower vectors.
    x86::write_cr8(0xa);
    u64 cr8 = x86::read_cr8();
    u32 tpr = lapic::read(lapic::reg_tpr);
    x86::write_cr8(0);
    if (!expect_eq("CR8", cr8, 0xa) || !expect_eq("TPR[7:4] after CR8 write", tpr >> 4 & 0xf, 0xa)) return;
    traps_set_handler(VEC_IPI, ipi_handler);
    g_ipi_count = 0;
    x86::write_cr8(VEC_IPI >> 4);                   // class 4 masks vector 0x40
    if (broken()) lapic::write(lapic::reg_tpr, 0);  // break: lower the priority behind CR8
    lapic::self_ipi(VEC_IPI);
    x86::sti();
    for (int i = 0; i < 100000; i++) x86::pause();
    x86::cli();
    u64 early = g_ipi_count;
    x86::write_cr8(0);
    x86::sti();
    bool got = wait_until(&g_ipi_count, 1, 10000000);
    x86::cli();
    if (early) return fail("vector 0x%x delivered while CR8 = %u", VEC_IPI, VEC_IPI >> 4);
    if (!got) fail("vector 0x%x not delivered after CR8 = 0", VEC_IPI);
}
