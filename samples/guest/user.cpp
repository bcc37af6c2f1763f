// Ring 3 support: user mappings for .user.text and a user stack, the syscall MSRs and
// the per-CPU block swapgs exposes to the syscall entry.
#include "kernel.h"

per_cpu g_percpu;

namespace {
alignas(16) u8 g_syscall_stack[16384];
extern "C" u8 __user_start[], __user_end[];
}  // namespace

u64 user_va(const void* sym) { return USER_TEXT_VA + ((const u8*)sym - __user_start); }

void user_init() {
    u64 cr3 = kernel_cr3();
    for (u8* p = __user_start; p < __user_end; p += 4096)
        map_page(cr3, USER_TEXT_VA + (p - __user_start), kpa(p), pte_p | pte_u);   // r-x
    u64 nx = (x86::rdmsr(x86::msr_efer) & x86::efer_nxe) ? pte_nx : 0;
    for (u64 va = USER_STACK_VA; va < USER_STACK_TOP; va += 4096)
        map_page(cr3, va, page_pa(alloc_page()), pte_p | pte_w | pte_u | nx);

    g_percpu.self = (u64)&g_percpu;
    g_percpu.kstack = (u64)(g_syscall_stack + sizeof g_syscall_stack);
    x86::wrmsr(x86::msr_star, (u64)(USER32_CS | 3) << 48 | (u64)KERNEL_CS << 32);
    x86::wrmsr(x86::msr_lstar, (u64)syscall_entry);
    x86::wrmsr(x86::msr_fmask, x86::rf_tf | x86::rf_df | x86::rf_if | x86::rf_iopl3 | x86::rf_ac | x86::rf_nt);
    x86::wrmsr(x86::msr_efer, x86::rdmsr(x86::msr_efer) | x86::efer_sce);
}

void run_user(const void* snippet, u8 vec, u64 rflags, u64 rdi, bool ring0) {
    expect_arm(vec);
    if (guest_setjmp(&g_expect.jb) == 0)
        enter_ring(user_va(snippet), USER_STACK_TOP, rflags, ring0 ? KERNEL_CS : USER_CS,
                   ring0 ? KERNEL_DS : USER_DS, rdi);
    // Back from ring 3 through a trap: SS was loaded with a null selector; restore ours.
    x86::write_ss(KERNEL_DS);
    x86::write_ds(KERNEL_DS);
    x86::write_es(KERNEL_DS);
}
