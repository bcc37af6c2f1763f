// The check list, in the order the guest runs them (and expected.txt lists them).
// X(name printed on the console, function)
#pragma once

#define GUEST_CHECKS(X)                          \
    X("boot.params", check_boot_params)          \
    X("cpuid", check_cpuid)                      \
    X("desc.gdt", check_desc_gdt)                \
    X("desc.idt", check_desc_idt)                \
    X("desc.tss", check_desc_tss)                \
    X("desc.ldt", check_desc_ldt)                \
    X("seg.mov", check_seg_mov)                  \
    X("seg.pushpop", check_seg_pushpop)          \
    X("seg.lar", check_seg_lar)                  \
    X("cr0", check_cr0)                          \
    X("cr2", check_cr2)                          \
    X("cr3", check_cr3)                          \
    X("cr4", check_cr4)                          \
    X("cr8", check_cr8)                          \
    X("msr.efer", check_msr_efer)                \
    X("msr.syscall", check_msr_syscall)          \
    X("msr.fsgs", check_msr_fsgs)                \
    X("msr.tsc", check_msr_tsc)                  \
    X("swapgs", check_swapgs)                    \
    X("fsgsbase", check_fsgsbase)                \
    X("paging.map", check_paging_map)            \
    X("paging.invlpg", check_paging_invlpg)      \
    X("paging.accessed", check_paging_accessed)  \
    X("paging.dirty", check_paging_dirty)        \
    X("paging.notpresent", check_paging_notpresent) \
    X("paging.protection", check_paging_protection) \
    X("exc.de", check_exc_de)                    \
    X("exc.ud", check_exc_ud)                    \
    X("exc.gp", check_exc_gp)                    \
    X("exc.int3", check_exc_int3)                \
    X("exc.intn", check_exc_intn)                \
    X("exc.nested", check_exc_nested)            \
    X("iretq", check_iretq)                      \
    X("if.cli_sti", check_if_cli_sti)            \
    X("if.sti_shadow", check_if_sti_shadow)      \
    X("if.popf", check_if_popf)                  \
    X("if.iretq", check_if_iretq)                \
    X("timer.pit", check_timer_pit)              \
    X("timer.lapic", check_timer_lapic)          \
    X("hlt", check_hlt)                          \
    X("user.iretq", check_user_iretq)            \
    X("user.sysret", check_user_sysret)          \
    X("user.gp", check_user_gp)                  \
    X("user.pf", check_user_pf)                  \
    X("user.isolation", check_user_isolation)    \
    X("rdtsc", check_rdtsc)                      \
    X("xsave", check_xsave)                      \
    X("wbinvd", check_wbinvd)                    \
    X("rdpmc", check_rdpmc)                      \
    X("monitor", check_monitor)

#define GUEST_DECLARE_CHECK(name, fn) void fn();
GUEST_CHECKS(GUEST_DECLARE_CHECK)
#undef GUEST_DECLARE_CHECK
