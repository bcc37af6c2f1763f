// kmain: bring the machine up, run every check, print the verdict and report it
// through QEMU's isa-debug-exit port (0xf4): 0 = success (QEMU rc 1), 1 = failure (rc 3).
#include "checks.h"
#include "kernel.h"

namespace {
struct check { const char* name; void (*fn)(); };
#define GUEST_ENTRY(name, fn) {name, fn},
const check g_checks[] = {GUEST_CHECKS(GUEST_ENTRY)};
#undef GUEST_ENTRY

const char* g_cur_name;
u64 g_boot_cr0, g_boot_cr4;
bool g_cur_failed, g_cur_skipped, g_in_check;
char g_cur_msg[200];
jump_buffer g_check_jb;

const char* vector_name(u64 v) {
    static const char* const names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                        "#DF", "?",   "#TS", "#NP", "#SS", "#GP", "#PF", "?",
                                        "#MF", "#AC", "#MC", "#XM"};
    return v < sizeof names / sizeof names[0] ? names[v] : "interrupt";
}

[[noreturn]] void finish(bool ok) {
    kprintf("%s\n", ok ? "AFTERBURN-SUCCESS" : "AFTERBURN-FAILURE");
    x86::outb(0xf4, ok ? 0 : 1);        // isa-debug-exit; a no-op on a real machine
    for (;;) {
        x86::cli();
        x86::hlt();
    }
}

// Put back what checks may have changed, so one failing check cannot break the next.
void reset_machine() {
    x86::cli();
    traps_reset();
    gdt_load();
    idt_reset();
    if (x86::str() != TSS_SEL) tss_reload();
    x86::lldt(0);
    x86::write_cr0(g_boot_cr0);
    x86::write_cr4(g_boot_cr4);
    x86::write_cr3(kernel_cr3());
    // Only a check that failed leaves CR8 raised. Writing it needlessly, with interrupts
    // pending, is what aborts QEMU 7.2's TCG when it runs nested KVM (docs/kvm-backend-notes.md).
    if (x86::read_cr8() != 0) x86::write_cr8(0);
    lapic::timer(0, 0, false);
    pic::pit_stop();
    for (u8 irq = 0; irq < 16; irq++) pic::mask(irq, irq != 2);
    // Drain interrupts a failed check left pending (the stray path acknowledges them).
    x86::sti();
    for (int i = 0; i < 1000; i++) x86::pause();
    x86::cli();
}
}  // namespace

void fail(const char* fmt, ...) {
    if (g_cur_failed) return;          // keep the first reason
    va_list ap;
    va_start(ap, fmt);
    vformat(g_cur_msg, sizeof g_cur_msg, fmt, ap);
    va_end(ap);
    g_cur_failed = true;
}

void skip(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat(g_cur_msg, sizeof g_cur_msg, fmt, ap);
    va_end(ap);
    g_cur_skipped = true;
}

bool broken() { return cmdline_break(g_cur_name); }
bool check_failed() { return g_cur_failed; }

bool expect_eq(const char* what, u64 got, u64 want) {
    if (got != want) fail("%s: got 0x%lx, want 0x%lx", what, got, want);
    return got == want;
}

bool wait_until(const volatile u64* v, u64 target, u64 max_spins) {
    for (u64 i = 0; i < max_spins; i++) {
        if (*v >= target) return true;
        x86::pause();
    }
    return *v >= target;
}

[[noreturn]] void check_abandon(const trap_frame* f) {
    u64 cr2 = x86::read_cr2();
    if (g_in_check) {
        fail("unexpected %s (vector %lu, error 0x%lx) at rip 0x%lx cs 0x%lx, cr2 0x%lx",
             vector_name(f->vector), f->vector, f->error, f->rip, f->cs, cr2);
        g_in_check = false;
        guest_longjmp(&g_check_jb, 1);
    }
    kprintf("guest: unexpected %s (vector %lu, error 0x%lx) at rip 0x%lx, cr2 0x%lx\n",
            vector_name(f->vector), f->vector, f->error, f->rip, cr2);
    finish(false);
}

extern "C" void kmain(u64 boot_params_pa) {
    console_init();
    boot_parse(boot_params_pa);
    desc_init();
    paging_init();
    pic::init();
    lapic::init();
    user_init();
    g_boot_cr0 = x86::read_cr0();
    g_boot_cr4 = x86::read_cr4();

    x86::cpuid_regs v = x86::cpuid(0);
    char vendor[13];
    memcpy(vendor, &v.b, 4);
    memcpy(vendor + 4, &v.d, 4);
    memcpy(vendor + 8, &v.c, 4);
    vendor[12] = 0;
    kprintf("\nafterburn sample guest: %s, %s, %u e820 entries, cmdline \"%s\"\n", vendor,
            lapic::x2apic() ? "x2APIC" : "xAPIC", g_boot.e820_count, g_boot.cmdline);

    unsigned passed = 0, failed = 0, skipped = 0;
    for (const check& c : g_checks) {
        g_cur_name = c.name;
        g_cur_failed = g_cur_skipped = false;
        g_cur_msg[0] = 0;
        reset_machine();
        if (guest_setjmp(&g_check_jb) == 0) {
            g_in_check = true;
            c.fn();
        }
        g_in_check = false;
        reset_machine();
        if (g_cur_failed) {
            failed++;
            kprintf("FAIL %s: %s\n", c.name, g_cur_msg);
        } else if (g_cur_skipped) {
            skipped++;
            kprintf("SKIP %s: %s\n", c.name, g_cur_msg);
        } else {
            passed++;
            kprintf("PASS %s\n", c.name);
        }
    }
    if (cmdline_has("bench")) {
        reset_machine();
        run_benchmarks();
        reset_machine();
    }
    if (cmdline_has("sti-stress")) {
        reset_machine();
        run_sti_stress();
        reset_machine();
    }
    if (cmdline_has("swapgs-shadow")) {
        reset_machine();
        run_swapgs_shadow();
        reset_machine();
    }
    if (cmdline_has("user-return")) {
        reset_machine();
        run_user_return();
        reset_machine();
    }
    if (skipped) kprintf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    else kprintf("%u passed, %u failed\n", passed, failed);
    finish(failed == 0);
}
