// Descriptor tables and segment registers: what lgdt/lidt/ltr/lldt load is what
// sgdt/sidt/str/sldt read back, and segment loads take their base from the descriptor.
#include "checks.h"
#include "kernel.h"

void check_desc_gdt() {
    x86::desc_ptr want = gdt_ptr();
    x86::lgdt(want);
    if (broken()) x86::lgdt(x86::desc_ptr{0x17, want.base});   // break: a shorter GDT
    x86::desc_ptr got = x86::sgdt();
    gdt_load();
    expect_eq("sgdt base", got.base, want.base);
    expect_eq("sgdt limit", got.limit, want.limit);
}

void check_desc_idt() {
    x86::desc_ptr want = idt_ptr();
    x86::lidt(want);
    if (broken()) x86::lidt(x86::desc_ptr{0xff, want.base});    // break: 16 gates only
    x86::desc_ptr got = x86::sidt();
    x86::lidt(want);
    expect_eq("sidt base", got.base, want.base);
    expect_eq("sidt limit", got.limit, want.limit);
}

void check_desc_tss() {
    tss_reload();                                  // available -> ltr -> busy
    if (broken()) x86::ltr(TSS2_SEL);              // break: load the other TSS
    expect_eq("str", x86::str(), TSS_SEL);
    expect_eq("TSS descriptor type after ltr (busy)", (g_gdt[TSS_SEL / 8] >> 40) & 0xf, 0xb);
}

void check_desc_ldt() {
    x86::lldt(LDT_SEL);
    if (broken()) x86::lldt(0);                    // break: drop the LDT again
    if (!expect_eq("sldt", x86::sldt(), LDT_SEL)) return;
    x86::write_fs(0x4);                            // LDT entry 0 (TI=1), base 0xabc000
    expect_eq("fs after load from LDT", x86::read_fs(), 0x4);
    expect_eq("FS_BASE from LDT descriptor", x86::rdmsr(x86::msr_fs_base), 0xabc000);
    x86::write_fs(0);
    x86::wrmsr(x86::msr_fs_base, 0);
}

void check_seg_mov() {
    x86::write_ds(KERNEL_DS);
    x86::write_es(KERNEL_DS);
    x86::write_ss(KERNEL_DS);
    expect_eq("cs", x86::read_cs(), KERNEL_CS);
    expect_eq("ds", x86::read_ds(), KERNEL_DS);
    expect_eq("es", x86::read_es(), KERNEL_DS);
    expect_eq("ss", x86::read_ss(), KERNEL_DS);
    x86::write_fs(BASED_DS);
    x86::write_gs(BASED_DS);
    if (broken()) x86::write_fs(KERNEL_DS);        // break: reload fs with a base-0 segment
    expect_eq("fs", x86::read_fs(), BASED_DS);
    expect_eq("gs", x86::read_gs(), BASED_DS);
    expect_eq("FS_BASE after mov to fs", x86::rdmsr(x86::msr_fs_base), 0x12345000);
    expect_eq("GS_BASE after mov to gs", x86::rdmsr(x86::msr_gs_base), 0x12345000);
    x86::write_fs(0);
    x86::write_gs(0);
    x86::wrmsr(x86::msr_fs_base, 0);
    x86::wrmsr(x86::msr_gs_base, 0);
}

void check_seg_pushpop() {
    u64 fs_pushed, gs_after;
    u64 clobber = broken();                        // break: overwrite the stack slot
    x86::write_fs(BASED_DS);
    x86::write_gs(0);
    asm volatile("pushq %%fs\n\t"
                 "movq (%%rsp), %0\n\t"
                 "testq %2, %2\n\t"
                 "jz 1f\n\t"
                 "movq $0, (%%rsp)\n"
                 "1:\n\t"
                 "popq %%gs\n\t"
                 "pushq %%gs\n\t"
                 "popq %1"
                 : "=&r"(fs_pushed), "=r"(gs_after)
                 : "r"(clobber)
                 : "memory");
    // A segment push may write only the low 16 bits of the slot: compare those.
    expect_eq("push %fs", fs_pushed & 0xffff, BASED_DS);
    expect_eq("pop %gs; push %gs", gs_after & 0xffff, BASED_DS);
    expect_eq("GS_BASE after pop %gs", x86::rdmsr(x86::msr_gs_base), 0x12345000);
    x86::write_fs(0);
    x86::write_gs(0);
    x86::wrmsr(x86::msr_fs_base, 0);
    x86::wrmsr(x86::msr_gs_base, 0);
}

namespace {
struct seg_info { u32 value; bool ok; };
seg_info lar(u16 sel) {
    u32 v = 0;
    bool ok;
    asm volatile("lar %w2, %0" : "+r"(v), "=@ccz"(ok) : "r"(sel) : "memory");  // reads the GDT
    return {v, ok};
}
seg_info lsl(u16 sel) {
    u32 v = 0;
    bool ok;
    asm volatile("lsl %w2, %0" : "+r"(v), "=@ccz"(ok) : "r"(sel) : "memory");
    return {v, ok};
}
bool verr(u16 sel) { bool ok; asm volatile("verr %w1" : "=@ccz"(ok) : "r"(sel)); return ok; }
bool verw(u16 sel) { bool ok; asm volatile("verw %w1" : "=@ccz"(ok) : "r"(sel)); return ok; }
}  // namespace

void check_seg_lar() {
    // lar/lsl/verr/verw read descriptor fields: silent instructions a de-privileged kernel
    // would otherwise answer from the real GDT. smsw reads CR0[15:0].
    u64 saved = g_gdt[BASED_DS / 8];
    if (broken()) g_gdt[BASED_DS / 8] &= ~(0x8ull << 52);   // break: clear G (limit in bytes)
    seg_info cs = lar(KERNEL_CS), ds = lsl(BASED_DS), null = lar(0);
    bool r_cs = verr(KERNEL_CS), w_ds = verw(KERNEL_DS), w_cs = verw(KERNEL_CS);
    g_gdt[BASED_DS / 8] = saved;
    u64 msw;
    asm volatile("smsw %0" : "=r"(msw));
    if (!cs.ok) return fail("lar of the kernel code selector failed");
    expect_eq("lar access byte of KERNEL_CS", cs.value >> 8 & 0xff, 0x9a);
    expect_eq("lar L bit of KERNEL_CS", cs.value >> 21 & 1, 1);
    if (!ds.ok) return fail("lsl of BASED_DS failed");
    expect_eq("lsl limit of BASED_DS (4 KiB granular)", ds.value, 0xffffffff);
    if (null.ok) fail("lar of the null selector succeeded");
    if (!r_cs) fail("verr KERNEL_CS: not readable");
    if (!w_ds) fail("verw KERNEL_DS: not writable");
    if (w_cs) fail("verw KERNEL_CS: code segment reported writable");
    expect_eq("smsw vs CR0[15:0]", msw & 0xffff, x86::read_cr0() & 0xffff);
}
