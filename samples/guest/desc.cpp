// Descriptor tables: GDT (flat segments, user segments in syscall/sysret order, two TSSs,
// an LDT, a based data segment), the TSS (ring-0 stack, an IST stack for #DF) and the IDT.
#include "kernel.h"

alignas(16) u64 g_gdt[GDT_ENTRIES];
alignas(16) tss g_tss, g_tss2;

namespace {
struct [[gnu::packed]] gate {
    u16 off_lo, sel;
    u8 ist, type_attr;
    u16 off_mid;
    u32 off_hi, zero;
};
alignas(16) gate g_idt[256];
alignas(16) u64 g_ldt[1];
alignas(16) u8 g_rsp0_stack[16384];
alignas(16) u8 g_df_stack[8192];
extern "C" u8 isr_stubs[];

constexpr u64 seg(u32 base, u8 access, u8 flags) {
    return 0xffffull | (u64)(base & 0xffffff) << 16 | (u64)access << 40 | 0xfull << 48 |
           (u64)flags << 52 | (u64)(base >> 24) << 56;
}
// 16-byte system descriptor (TSS type 9, LDT type 2) in two GDT slots.
void sys_desc(u64* slot, u64 base, u32 limit, u8 type) {
    slot[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | (u64)(0x80 | type) << 40 |
              (u64)((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    slot[1] = base >> 32;
}
}  // namespace

x86::desc_ptr gdt_ptr() { return {sizeof g_gdt - 1, (u64)g_gdt}; }
x86::desc_ptr idt_ptr() { return {sizeof g_idt - 1, (u64)g_idt}; }

void gdt_load() {
    x86::lgdt(gdt_ptr());
    // Reload CS with a far return, then the data segments. FS/GS stay null (their bases
    // are set through MSRs), so iretq to ring 3 has nothing to clear.
    asm volatile("pushq %0; leaq 1f(%%rip), %%rax; pushq %%rax; lretq; 1:" ::"i"(KERNEL_CS) : "rax", "memory");
    x86::write_ds(KERNEL_DS);
    x86::write_es(KERNEL_DS);
    x86::write_ss(KERNEL_DS);
    x86::write_fs(0);
    x86::write_gs(0);
}

void tss_reload() {
    // ltr marks the descriptor busy; make both available again before reloading.
    g_gdt[TSS_SEL / 8] &= ~(0x2ull << 40);
    g_gdt[TSS2_SEL / 8] &= ~(0x2ull << 40);
    x86::ltr(TSS_SEL);
}

void idt_set_gate(u8 vec, u8 dpl, u8 ist) {
    u64 h = (u64)(isr_stubs + 16 * vec);
    g_idt[vec] = gate{(u16)h, KERNEL_CS, ist, (u8)(0x8e | dpl << 5), (u16)(h >> 16), (u32)(h >> 32), 0};
}

void idt_gate_present(u8 vec, bool present) {
    if (present) g_idt[vec].type_attr |= 0x80;
    else g_idt[vec].type_attr &= 0x7f;
}

void desc_init() {
    g_gdt[0] = 0;
    g_gdt[KERNEL_CS / 8] = seg(0, 0x9a, 0xa);   // 64-bit code, DPL 0
    g_gdt[KERNEL_DS / 8] = seg(0, 0x92, 0xc);   // data, DPL 0
    g_gdt[USER32_CS / 8] = seg(0, 0xfa, 0xc);   // 32-bit code, DPL 3 (unused, sysret order)
    g_gdt[USER_DS / 8] = seg(0, 0xf2, 0xc);     // data, DPL 3
    g_gdt[USER_CS / 8] = seg(0, 0xfa, 0xa);     // 64-bit code, DPL 3
    sys_desc(&g_gdt[TSS_SEL / 8], (u64)&g_tss, sizeof(tss) - 1, 0x9);
    sys_desc(&g_gdt[TSS2_SEL / 8], (u64)&g_tss2, sizeof(tss) - 1, 0x9);
    sys_desc(&g_gdt[LDT_SEL / 8], (u64)g_ldt, sizeof g_ldt - 1, 0x2);
    g_gdt[BASED_DS / 8] = seg(0x12345000, 0x92, 0xc);
    g_ldt[0] = seg(0x00abc000, 0x92, 0xc);

    g_tss.rsp[0] = (u64)(g_rsp0_stack + sizeof g_rsp0_stack);
    g_tss.ist[0] = (u64)(g_df_stack + sizeof g_df_stack);
    g_tss.iomap_base = sizeof(tss);    // beyond the limit: no I/O bitmap, ring 3 I/O faults
    g_tss2 = g_tss;

    gdt_load();
    tss_reload();
    x86::lldt(0);

    idt_reset();
}

void idt_reset() {
    for (int v = 0; v < 256; v++) idt_set_gate((u8)v, 0, v == 8 ? 1 : 0);   // #DF on IST1
    idt_set_gate(VEC_SYSCALL_INT, 3);
    x86::lidt(idt_ptr());
}
