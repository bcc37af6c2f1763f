// MSRs through rdmsr/wrmsr (EFER, syscall MSRs, segment bases, TSC), swapgs, and the
// FSGSBASE instructions.
#include "checks.h"
#include "kernel.h"

using namespace x86;

void check_msr_efer() {
    u64 efer = rdmsr(msr_efer);
    if (!(efer & efer_lme) || !(efer & efer_lma)) return fail("EFER 0x%lx lacks LME/LMA", efer);
    wrmsr(msr_efer, efer & ~efer_sce);
    u64 off = rdmsr(msr_efer);
    wrmsr(msr_efer, broken() ? efer & ~efer_sce : efer | efer_sce);   // break: leave SCE clear
    u64 on = rdmsr(msr_efer);
    wrmsr(msr_efer, efer);
    expect_eq("EFER.SCE after clearing", off & efer_sce, 0);
    expect_eq("EFER.SCE after setting", on & efer_sce, efer_sce);
    expect_eq("EFER.LMA unchanged", on & efer_lma, efer_lma);
}

void check_msr_syscall() {
    u64 star = rdmsr(msr_star), lstar = rdmsr(msr_lstar), fmask = rdmsr(msr_fmask);
    constexpr u64 t_star = 0x00230010ull << 32, t_lstar = 0xffffffff81abc000, t_fmask = 0x4700;
    wrmsr(msr_star, t_star);
    wrmsr(msr_lstar, t_lstar);
    wrmsr(msr_fmask, t_fmask);
    if (broken()) wrmsr(msr_lstar, lstar);          // break: put the old entry back early
    u64 g_star = rdmsr(msr_star), g_lstar = rdmsr(msr_lstar), g_fmask = rdmsr(msr_fmask);
    wrmsr(msr_star, star);
    wrmsr(msr_lstar, lstar);
    wrmsr(msr_fmask, fmask);
    expect_eq("STAR", g_star, t_star);
    expect_eq("LSTAR", g_lstar, t_lstar);
    expect_eq("FMASK", g_fmask, t_fmask);
}

void check_msr_fsgs() {
    static u64 fsbuf[2] = {0xf5f5f5f5f5f5f5f5, 0x1111}, gsbuf[2] = {0x6565656565656565, 0x2222};
    wrmsr(msr_fs_base, (u64)fsbuf);
    wrmsr(msr_gs_base, (u64)gsbuf);
    wrmsr(msr_kernel_gs_base, 0xffff888012340000);
    if (broken()) wrmsr(msr_fs_base, (u64)gsbuf);   // break: FS base points elsewhere
    u64 fsb = rdmsr(msr_fs_base), gsb = rdmsr(msr_gs_base), kgs = rdmsr(msr_kernel_gs_base);
    u64 f0 = fs_load(0), f1 = fs_load(8), g0 = gs_load(0), g1 = gs_load(8);
    wrmsr(msr_fs_base, 0);
    wrmsr(msr_gs_base, 0);
    wrmsr(msr_kernel_gs_base, 0);
    expect_eq("FS_BASE", fsb, (u64)fsbuf);
    expect_eq("GS_BASE", gsb, (u64)gsbuf);
    expect_eq("KERNEL_GS_BASE", kgs, 0xffff888012340000);
    expect_eq("%fs:0", f0, fsbuf[0]);
    expect_eq("%fs:8", f1, fsbuf[1]);
    expect_eq("%gs:0", g0, gsbuf[0]);
    expect_eq("%gs:8", g1, gsbuf[1]);
}

void check_msr_tsc() {
    // IA32_TSC is the counter rdtsc reads: a read lies between two rdtscs, and a write
    // moves what rdtsc returns. QEMU TCG (7.2) does not implement the MSR (reads 0,
    // writes are dropped): that is reported as SKIP, not hidden.
    u64 t1 = rdtsc(), m = rdmsr(msr_tsc), t2 = rdtsc();
    if (m == 0 && t1 != 0) return skip("IA32_TSC reads 0 while rdtsc counts (MSR not implemented, e.g. QEMU TCG)");
    if (!(t1 <= m && m <= t2)) return fail("rdmsr(TSC) 0x%lx outside rdtsc 0x%lx..0x%lx", m, t1, t2);
    constexpr u64 jump = 1ul << 44;
    u64 v = rdtsc() + jump;
    if (!broken()) wrmsr(msr_tsc, v);               // break: skip the write
    u64 r = rdmsr(msr_tsc), t = rdtsc();
    wrmsr(msr_tsc, t - jump);
    if (r < v || r - v >= (1ul << 40)) fail("rdmsr(TSC) 0x%lx after wrmsr(TSC, 0x%lx)", r, v);
    if (t < r || t - r >= (1ul << 40)) fail("rdtsc 0x%lx after wrmsr(TSC, 0x%lx)", t, v);
}

void check_swapgs() {
    static u64 user_area[1] = {0x5555}, kernel_area[1] = {0x4b4b};
    wrmsr(msr_gs_base, (u64)user_area);
    wrmsr(msr_kernel_gs_base, (u64)kernel_area);
    if (!broken()) swapgs();                        // break: no swapgs
    u64 gs = rdmsr(msr_gs_base), kgs = rdmsr(msr_kernel_gs_base), v = gs_load(0);
    swapgs();
    u64 gs2 = rdmsr(msr_gs_base), kgs2 = rdmsr(msr_kernel_gs_base);
    wrmsr(msr_gs_base, 0);
    wrmsr(msr_kernel_gs_base, 0);
    expect_eq("GS_BASE after swapgs", gs, (u64)kernel_area);
    expect_eq("KERNEL_GS_BASE after swapgs", kgs, (u64)user_area);
    expect_eq("%gs:0 after swapgs", v, kernel_area[0]);
    expect_eq("GS_BASE after second swapgs", gs2, (u64)user_area);
    expect_eq("KERNEL_GS_BASE after second swapgs", kgs2, (u64)kernel_area);
}

void check_fsgsbase() {
    if (cpuid(0).a < 7 || !(cpuid(7, 0).b & 1)) return skip("CPUID.7.EBX.FSGSBASE is 0");
    u64 cr4 = read_cr4();
    if (!broken()) write_cr4(cr4 | cr4_fsgsbase);   // break: not enabled -> #UD
    static u64 buf[1] = {0x7777};
    u64 fsb, gsb, v;
    asm volatile("wrfsbase %0" ::"r"((u64)buf) : "memory");
    asm volatile("rdfsbase %0" : "=r"(fsb));
    v = fs_load(0);
    asm volatile("wrgsbase %0" ::"r"(0xffff888000001000ul) : "memory");
    asm volatile("rdgsbase %0" : "=r"(gsb));
    u64 msr_fs = rdmsr(msr_fs_base), msr_gs = rdmsr(msr_gs_base);
    write_cr4(cr4);
    wrmsr(msr_fs_base, 0);
    wrmsr(msr_gs_base, 0);
    expect_eq("rdfsbase", fsb, (u64)buf);
    expect_eq("%fs:0 after wrfsbase", v, buf[0]);
    expect_eq("FS_BASE MSR after wrfsbase", msr_fs, (u64)buf);
    expect_eq("rdgsbase", gsb, 0xffff888000001000ul);
    expect_eq("GS_BASE MSR after wrgsbase", msr_gs, 0xffff888000001000ul);
}
