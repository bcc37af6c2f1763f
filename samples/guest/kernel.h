// Declarations shared by the guest's C++ files. Each .cpp file holds one concept.
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include "layout.h"
#include "x86.h"

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

// ---- lib.cpp: freestanding helpers -------------------------------------------------
extern "C" void* memset(void* d, int c, size_t n);
extern "C" void* memcpy(void* d, const void* s, size_t n);
extern "C" int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
bool str_eq(const char* a, const char* b);
// vsnprintf with %s %c %d %u %x %lx %lu %ld %p; always NUL-terminates.
int vformat(char* buf, size_t size, const char* fmt, va_list ap);
int format(char* buf, size_t size, const char* fmt, ...) PRINTF_LIKE(3, 4);

// ---- console.cpp: 8250 UART at 0x3f8 --------------------------------------------------
void console_init();
void console_write(const char* s, size_t n);
void kprintf(const char* fmt, ...) PRINTF_LIKE(1, 2);

// ---- boot.cpp: boot_params (Linux zero page) -------------------------------------------
struct e820_entry { u64 addr, size; u32 type; } __attribute__((packed));
struct boot_info {
    u64 params_pa;            // physical address handed over in RSI
    const char* cmdline;      // copy, NUL-terminated
    u32 e820_count;
    e820_entry e820[128];
};
extern boot_info g_boot;
void boot_parse(u64 boot_params_pa);
bool cmdline_has(const char* word);          // exact word, e.g. "nox2apic"
void run_benchmarks();                       // `bench`: BENCH <kind> <ticks per op> lines
void run_sti_stress();                       // `sti-stress`: sti's shadow against timer ticks
void run_swapgs_shadow();                    // `swapgs-shadow`: a pending interrupt after sti; swapgs
void run_user_return();                      // `user-return`: iretq to ring 3 with an interrupt pending
bool cmdline_break(const char* check_name);  // break=<check_name> present

// ---- setjmp.S ------------------------------------------------------------------------------
struct jump_buffer { u64 rbx, rbp, r12, r13, r14, r15, rsp, rip; };
extern "C" __attribute__((returns_twice)) int guest_setjmp(jump_buffer* jb);
extern "C" [[noreturn]] void guest_longjmp(jump_buffer* jb, int val);

// ---- desc.cpp: GDT, TSS, LDT, IDT ----------------------------------------------------------
struct tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3, iomap_base;
} __attribute__((packed));
extern u64 g_gdt[GDT_ENTRIES];
extern tss g_tss, g_tss2;
void desc_init();
void gdt_load();                 // lgdt + reload all segment registers
void tss_reload();               // mark TSS available again and ltr TSS_SEL
void idt_reset();                // all gates present, DPL 0 (0x80: DPL 3); lidt
void idt_set_gate(u8 vec, u8 dpl, u8 ist = 0);
void idt_gate_present(u8 vec, bool present);
x86::desc_ptr gdt_ptr();
x86::desc_ptr idt_ptr();

// ---- traps.cpp: exception and interrupt dispatch -------------------------------------------
struct trap_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss;  // pushed by the CPU
};
using trap_handler = void (*)(trap_frame*);
void traps_set_handler(u8 vec, trap_handler h);
void traps_reset();              // drop per-check handlers and expectations
// An expected trap: the next trap with this vector is recorded; then either the frame's
// RIP is moved to `resume` and the handler returns with iretq (resume_pushed: return to
// the RIP the CPU pushed, as a trap handler does), or, when resume is 0, control goes
// back to guest_setjmp(&g_expect.jb) with value 1.
inline constexpr u64 resume_pushed = ~0ul;
struct expectation {
    volatile bool active;
    u8 vector;
    u64 resume;
    jump_buffer jb;
    trap_frame got;
    u64 cr2;
    volatile int hits;
};
extern expectation g_expect;
void expect_arm(u8 vec, u64 resume = 0);
// True if `body` trapped with `vec` (then g_expect.got holds the frame). The setjmp lives
// in this helper's frame, which stays live while `body` runs.
template <typename F> [[gnu::noinline]] bool traps(u8 vec, F&& body) {
    expect_arm(vec);
    if (guest_setjmp(&g_expect.jb) == 0) {
        body();
        g_expect.active = false;
        return false;
    }
    return true;
}
#define TRAPS(vec, ...) traps((vec), [&] { __VA_ARGS__; })
extern volatile u64 g_stray_irqs;

// ---- paging.cpp ---------------------------------------------------------------------------
inline constexpr u64 pte_p = 1, pte_w = 2, pte_u = 4, pte_pwt = 8, pte_pcd = 0x10, pte_a = 0x20,
                     pte_d = 0x40, pte_ps = 0x80, pte_nx = 1ul << 63, pte_addr = 0x000ffffffffff000ul;
extern "C" u64 early_pml4[512];
inline u64 kpa(const volatile void* p) { return (u64)p - KERNEL_MAP; }  // image symbol -> phys
inline void* phys_to_virt(u64 pa) { return (void*)(pa + DIRECT_MAP); }
void* alloc_page();                       // zeroed 4 KiB page from a static pool
u64 page_pa(const void* page);            // physical address of a pool page
u64 kernel_cr3();
u64* pte_walk(u64 pml4_pa, u64 va, bool create);  // 4 KiB PTE slot, creating tables
void map_page(u64 pml4_pa, u64 va, u64 pa, u64 flags);
u64 new_address_space();                  // a PML4 sharing the kernel half
void paging_init();

// ---- apic.cpp: local APIC (x2APIC MSRs or xAPIC MMIO) ---------------------------------------
namespace lapic {
enum : u32 { reg_id = 0x20, reg_tpr = 0x80, reg_eoi = 0xb0, reg_svr = 0xf0, reg_irr = 0x200,
             reg_icr = 0x300, reg_lvt_timer = 0x320, reg_lvt_lint0 = 0x350, reg_lvt_lint1 = 0x360,
             reg_timer_init = 0x380, reg_timer_cur = 0x390, reg_timer_div = 0x3e0 };
void init();
bool x2apic();
u32 read(u32 reg);
void write(u32 reg, u32 v);
void eoi();
void self_ipi(u8 vec);
bool irr(u8 vec);
void timer(u8 vec, u32 count, bool periodic);  // count 0 stops it
}  // namespace lapic

// ---- pic.cpp: 8259 PIC and 8254 PIT ------------------------------------------------------
namespace pic {
void init();
void mask(u8 irq, bool masked);
void eoi(u8 irq);
void pit_periodic(u32 hz);
void pit_stop();
}  // namespace pic

// ---- user.cpp: ring 3 --------------------------------------------------------------------
struct per_cpu { u64 self, kstack, user_rsp; };
extern per_cpu g_percpu;
void user_init();
u64 user_va(const void* user_text_symbol);   // where a .user.text symbol is mapped
extern "C" [[noreturn]] void enter_ring(u64 rip, u64 rsp, u64 rflags, u64 cs, u64 ss, u64 rdi);
extern "C" [[noreturn]] void enter_ring_swapgs(u64 rip, u64 rsp, u64 rflags, u64 cs, u64 ss, u64 rdi);
extern "C" [[noreturn]] void enter_sysret(u64 rip, u64 rsp, u64 rflags, u64 rdi);
extern "C" void syscall_entry();
// Run a .user.text snippet at CPL 3 (iretq); returns once it traps with `vec` (recorded in
// g_expect.got); any other trap abandons the check (FAIL). ring0: run it at CPL 0 instead.
void run_user(const void* snippet, u8 vec, u64 rflags = 0x202, u64 rdi = 0, bool ring0 = false);

// ---- check framework (main.cpp) ---------------------------------------------------------
void fail(const char* fmt, ...) PRINTF_LIKE(1, 2);
void skip(const char* fmt, ...) PRINTF_LIKE(1, 2);
bool broken();   // break=<current check> is on the command line: perturb the state
bool check_failed();
// Record a failure unless got == want; returns whether they matched.
bool expect_eq(const char* what, u64 got, u64 want);
// Bounded wait: spin (with IF as the caller left it) until *v >= target or the bound runs out.
bool wait_until(const volatile u64* v, u64 target, u64 max_spins = 50000000);
