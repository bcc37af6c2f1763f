// Microbenchmarks of the main site kinds (`bench` on the command line): TSC ticks per
// operation over many iterations, the loop's own cost subtracted. Run under QEMU with
// `-icount shift=0` the TSC counts instructions, so the same file measured natively and on a
// hypervisor gives comparable costs (bench/site-costs.sh prints them side by side).
#include "kernel.h"

extern "C" u8 user_bench_syscall[], bench_pf_touch[], bench_pf_resume[];
extern "C" void bench_pf_touch_fn(u64 va) asm("bench_pf_touch");

namespace {

constexpr u64 iterations = 2000;

template <typename F> [[gnu::noinline]] u64 ticks(F&& op)
{
    u64 t0 = x86::rdtsc();
    for (u64 i = 0; i < iterations; ++i) op();
    return x86::rdtsc() - t0;
}

void report(const char* name, u64 total, u64 baseline)
{
    u64 net = total > baseline ? total - baseline : 0;
    kprintf("BENCH %s %lu\n", name, net / iterations);
}

}  // namespace

void run_benchmarks()
{
    u64 base = ticks([] { asm volatile("" ::: "memory"); });
    report("cli", ticks([] { asm volatile("cli" ::: "memory"); }), base);
    report("sti", ticks([] { asm volatile("cli; sti" ::: "memory"); }),
           ticks([] { asm volatile("cli" ::: "memory"); }));
    asm volatile("cli");
    report("pushf", ticks([] { u64 f; asm volatile("pushfq; popq %0" : "=r"(f)::"memory"); }), base);
    report("popf", ticks([] { asm volatile("pushq $2; popfq" ::: "memory"); }), base);
    report("rdtsc", ticks([] { x86::rdtsc(); }), base);
    if (x86::cpuid(0x80000000).a >= 0x80000001 && (x86::cpuid(0x80000001).d & 1u << 27))
        report("rdtscp", ticks([] { u32 aux; x86::rdtscp(&aux); }), base);
    u64 cr3 = x86::read_cr3();
    report("cr3_write", ticks([cr3] { asm volatile("mov %0, %%cr3" ::"r"(cr3) : "memory"); }), base);
    report("iretq", ticks([] {
               asm volatile("movq %%rsp, %%rax\n\t"
                            "pushq %0\n\t"
                            "pushq %%rax\n\t"
                            "pushfq\n\t"
                            "pushq %1\n\t"
                            "leaq 1f(%%rip), %%rax\n\t"
                            "pushq %%rax\n\t"
                            "iretq\n"
                            "1:" ::"i"(KERNEL_DS), "i"(KERNEL_CS) : "rax", "memory");
           }),
           ticks([] { u64 f; asm volatile("pushfq; popq %0" : "=r"(f)::"memory"); }));

    // A syscall round trip from ring 3: syscall, the kernel's entry and dispatch, sysretq.
    // One ring-3 entry and one int $0x80 exit are spread over all iterations.
    x86::wrmsr(x86::msr_gs_base, 0);
    x86::wrmsr(x86::msr_kernel_gs_base, (u64)&g_percpu);
    u64 t0 = x86::rdtsc();
    run_user(user_bench_syscall, VEC_SYSCALL_INT, 0x202, iterations);
    u64 t1 = x86::rdtsc();
    x86::wrmsr(x86::msr_kernel_gs_base, 0);
    asm volatile("cli");
    kprintf("BENCH syscall %lu\n", (t1 - t0) / iterations);

    // A page fault: an address nothing maps (a PML4 slot the guest never uses), the handler
    // resumes past the access.
    constexpr u64 unmapped = 0xffffd00000000000;
    u64 pf_total = ticks([] {
        expect_arm(14, (u64)bench_pf_resume);
        bench_pf_touch_fn(unmapped);
    });
    u64 pf_base = ticks([] { expect_arm(14, (u64)bench_pf_resume); g_expect.active = false; });
    report("page_fault", pf_total, pf_base);
}
