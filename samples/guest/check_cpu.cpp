// CPU identification and the remaining privileged or sensitive instructions:
// cpuid, rdtsc/rdtscp, xgetbv/xsetbv, wbinvd, rdpmc, monitor/mwait.
#include "checks.h"
#include "kernel.h"

using namespace x86;

extern "C" u8 user_wbinvd[], user_rdpmc[], user_rdtsc[];

void check_cpuid() {
    cpuid_regs l0 = cpuid(broken() ? 0x80000000 : 0);    // break: ask the wrong leaf
    if (l0.a < 1 || l0.a >= 0x80000000) return fail("max basic leaf 0x%x out of range", l0.a);
    const u8* vendor[] = {(const u8*)&l0.b, (const u8*)&l0.d, (const u8*)&l0.c};
    for (auto* v : vendor)
        for (int i = 0; i < 4; i++)
            if (v[i] < 0x20 || v[i] > 0x7e) return fail("vendor string not printable");
    cpuid_regs l1 = cpuid(1);
    constexpr u32 need = 1u << 4 | 1u << 5 | 1u << 6 | 1u << 9;   // TSC MSR PAE APIC: we use them
    if ((l1.d & need) != need) return fail("CPUID.1.EDX 0x%x lacks TSC/MSR/PAE/APIC", l1.d);
    expect_eq("CPUID.1.ECX.OSXSAVE vs CR4.OSXSAVE", l1.c >> 27 & 1, read_cr4() >> 18 & 1);
    u32 apic_id = lapic::read(lapic::reg_id);
    if (!lapic::x2apic()) apic_id >>= 24;
    expect_eq("CPUID.1.EBX initial APIC ID vs local APIC ID", l1.b >> 24, apic_id & 0xff);
    u32 max_ext = cpuid(0x80000000).a;
    if (max_ext < 0x80000001) return fail("max extended leaf 0x%x", max_ext);
    cpuid_regs e1 = cpuid(0x80000001);
    expect_eq("CPUID.80000001.EDX.LM (we run in long mode)", e1.d >> 29 & 1, 1);
    expect_eq("CPUID.80000001.EDX.NX vs EFER.NXE", e1.d >> 20 & 1, rdmsr(msr_efer) >> 11 & 1);
    if (l0.a >= 7) {
        cpuid_regs l7 = cpuid(7, 0);
        cpuid_regs beyond = cpuid(7, l7.a + 1);          // sub-leaves past the max read as zero
        if (beyond.a | beyond.b | beyond.c | beyond.d) fail("CPUID.7.%u not zero", l7.a + 1);
    }
    if (l0.a >= 0xd && (l1.c >> 26 & 1)) {
        cpuid_regs d0 = cpuid(0xd, 0);
        if ((d0.a & 3) != 3) fail("CPUID.D.0.EAX 0x%x lacks x87|SSE", d0.a);
        if (d0.c < 576 || d0.b > d0.c) fail("CPUID.D.0 sizes EBX %u ECX %u", d0.b, d0.c);
    }
}

void check_rdtsc() {
    u64 prev = rdtsc();
    for (int i = 0; i < 1000; i++) {
        u64 t = rdtsc();
        if (t < prev) return fail("rdtsc went backwards: 0x%lx after 0x%lx", t, prev);
        prev = t;
    }
    // Ring 3 reads the same counter (CR4.TSD clear).
    if (broken()) write_cr4(read_cr4() | cr4_tsd);   // break: ring-3 rdtsc now #GPs
    u64 t0 = rdtsc();
    run_user(user_rdtsc, VEC_SYSCALL_INT);
    u64 t1 = rdtsc();
    u64 user = (g_expect.got.rdx & 0xffffffff) << 32 | (g_expect.got.rax & 0xffffffff);
    if (!(t0 <= user && user <= t1)) return fail("ring-3 rdtsc 0x%lx not between 0x%lx and 0x%lx", user, t0, t1);
    if (!(cpuid(0x80000001).d >> 27 & 1)) return;    // no rdtscp on this CPU
    wrmsr(msr_tsc_aux, 0x5a5);
    u32 aux = 0;
    u64 a = rdtsc(), b = rdtscp(&aux), c = rdtsc();
    wrmsr(msr_tsc_aux, 0);
    expect_eq("rdtscp ECX (TSC_AUX)", aux, 0x5a5);
    if (!(a <= b && b <= c)) fail("rdtscp 0x%lx not between rdtsc 0x%lx and 0x%lx", b, a, c);
}

void check_xsave() {
    if (!(cpuid(1).c >> 26 & 1)) return skip("CPUID.1.ECX.XSAVE is 0");
    u64 cr4 = read_cr4();
    write_cr4(cr4 | cr4_osxsave);
    bool os = cpuid(1).c >> 27 & 1;
    u64 x0 = xgetbv(0);
    u32 supported = cpuid(0xd, 0).a;
    u64 want = (supported & 2) ? 3 : 1;              // x87, plus SSE state if supported
    if (!broken()) xsetbv(0, want);                  // break: no xsetbv
    u64 x1 = xgetbv(0);
    xsetbv(0, x0);
    write_cr4(cr4);
    bool os_after = cpuid(1).c >> 27 & 1;
    if (!os) fail("CPUID.1.ECX.OSXSAVE is 0 with CR4.OSXSAVE set");
    if (os_after) fail("CPUID.1.ECX.OSXSAVE is 1 with CR4.OSXSAVE clear");
    expect_eq("XCR0 bit 0 (x87) after reset", x0 & 1, 1);
    expect_eq("XCR0 after xsetbv", x1, want);
}

void check_wbinvd() {
    volatile u64 x = 0x5a5a;
    wbinvd();                                        // ring 0: allowed, memory unchanged
    if (x != 0x5a5a) return fail("memory changed across wbinvd");
    run_user(user_wbinvd, 13, 0x202, 0, broken());   // break: run the "user" part in ring 0
    expect_eq("ring-3 wbinvd #GP CS", g_expect.got.cs, USER_CS);
    expect_eq("ring-3 wbinvd #GP error code", g_expect.got.error, 0);
}

void check_rdpmc() {
    // Ring 3 may use rdpmc only with CR4.PCE. Counting itself is checked only when an
    // architectural PMU is reported (Intel leaf 0xa); QEMU TCG has none.
    u64 cr4 = read_cr4();
    write_cr4(broken() ? cr4 | cr4_pce : cr4 & ~cr4_pce);   // break: allow ring-3 rdpmc
    run_user(user_rdpmc, 13);
    expect_eq("ring-3 rdpmc #GP CS", g_expect.got.cs, USER_CS);
    expect_eq("ring-3 rdpmc #GP error code", g_expect.got.error, 0);
    cpuid_regs v = cpuid(0);
    bool intel = v.b == 0x756e6547 && v.d == 0x49656e69 && v.c == 0x6c65746e;
    if (intel && v.a >= 0xa && (cpuid(0xa).a & 0xff) >= 1 && (cpuid(0xa).a >> 8 & 0xff) >= 1) {
        write_cr4(cr4 | cr4_pce);
        run_user(user_rdpmc, VEC_SYSCALL_INT);       // allowed now: reaches int $0x80
    }
    write_cr4(cr4);
}

namespace {
volatile u64 g_wakeups;
void wake_handler(trap_frame*) { g_wakeups = g_wakeups + 1; lapic::eoi(); }
alignas(64) volatile u64 g_monitored[8];
}  // namespace

void check_monitor() {
    if (!(cpuid(1).c >> 3 & 1)) return skip("CPUID.1.ECX.MONITOR is 0");
    traps_set_handler(VEC_WATCHDOG, wake_handler);
    g_wakeups = 0;
    lapic::timer(VEC_WATCHDOG, 100000, false);      // wake-up bound for mwait
    u32 hints = broken() ? 2 : 0;                    // break: reserved ECX bit -> #GP
    asm volatile("monitor" ::"a"(g_monitored), "c"(0), "d"(0) : "memory");
    g_monitored[0] = 1;                              // a store to the armed line
    asm volatile("sti; mwait; cli" ::"a"(0), "c"(hints) : "memory");
    lapic::timer(0, 0, false);
    // mwait may return early for many reasons; reaching here without a fault is the check.
}
