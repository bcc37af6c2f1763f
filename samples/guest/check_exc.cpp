// Exceptions and software interrupts through the IDT: the CPU-pushed frame (RIP, CS,
// RFLAGS, RSP, SS, error code) is checked, and the handler returns with iretq.
// break=<check> marks the gate not present, so delivery itself fails (#NP / #DF).
#include "checks.h"
#include "kernel.h"

extern "C" {
void probe_de(); void probe_ud(); void probe_gp(); void probe_int3(); void probe_intn();
void probe_nested();
extern u8 probe_de_insn[], probe_de_resume[], probe_ud_insn[], probe_ud_resume[];
extern u8 probe_gp_insn[], probe_gp_resume[], probe_int3_insn[], probe_intn_insn[];
extern u8 probe_nested_insn[];
extern u64 probe_rsp, probe_rflags;
void iretq_probe(u64 rflags, u64 rsp);
extern u64 iret_got_rsp, iret_got_rflags, iret_got_ss, iret_got_cs;
}

namespace {
// Run a probe that raises `vec`; the handler resumes at `resume`. Check the frame.
void exception_check(u8 vec, void (*probe)(), u64 resume, u64 want_rip, u64 want_err) {
    if (broken()) idt_gate_present(vec, false);
    expect_arm(vec, resume);
    probe();
    if (g_expect.hits != 1) return fail("vector %u taken %d times", vec, g_expect.hits);
    const trap_frame& f = g_expect.got;
    expect_eq("pushed RIP", f.rip, want_rip);
    expect_eq("pushed CS", f.cs, KERNEL_CS);
    expect_eq("pushed SS", f.ss, KERNEL_DS);
    expect_eq("pushed RSP", f.rsp, probe_rsp);
    // RF may be set in the image of a fault; everything else must match.
    expect_eq("pushed RFLAGS", f.rflags & ~x86::rf_rf, probe_rflags);
    expect_eq("error code", f.error, want_err);
}
}  // namespace

void check_exc_de() { exception_check(0, probe_de, (u64)probe_de_resume, (u64)probe_de_insn, 0); }
void check_exc_ud() { exception_check(6, probe_ud, (u64)probe_ud_resume, (u64)probe_ud_insn, 0); }
void check_exc_gp() {
    exception_check(13, probe_gp, (u64)probe_gp_resume, (u64)probe_gp_insn, 0xfff8);  // selector
}
// Traps: the pushed RIP is the end of the instruction (int3: 1 byte, int n: 2 bytes) and
// the handler returns there. (Not a label after it: afterburn-cc may pad the site.)
void check_exc_int3() { exception_check(3, probe_int3, resume_pushed, (u64)probe_int3_insn + 1, 0); }
void check_exc_intn() {
    exception_check(VEC_TEST_INT, probe_intn, resume_pushed, (u64)probe_intn_insn + 2, 0);
}

namespace {
volatile u64 g_outer_frame, g_nested_done;
trap_frame g_outer, g_inner;
extern "C" void probe_ud();
void nested_handler(trap_frame* f) {
    g_outer = *f;
    g_outer_frame = (u64)f;
    expect_arm(6, (u64)probe_ud_resume);           // a fault inside this handler
    probe_ud();
    g_inner = g_expect.got;
    g_nested_done = g_expect.hits;
}
}  // namespace

void check_exc_nested() {
    traps_set_handler(VEC_NESTED, nested_handler);
    if (broken()) idt_gate_present(6, false);       // break: the inner fault has no gate
    g_nested_done = 0;
    probe_nested();
    if (g_nested_done != 1) return fail("nested #UD taken %lu times", g_nested_done);
    expect_eq("inner vector", g_inner.vector, 6);
    expect_eq("inner RIP", g_inner.rip, (u64)probe_ud_insn);
    expect_eq("inner CS", g_inner.cs, KERNEL_CS);
    if (g_inner.rsp >= g_outer_frame) fail("inner frame RSP 0x%lx not below the outer frame 0x%lx", g_inner.rsp, g_outer_frame);
    expect_eq("IF inside the outer handler", g_inner.rflags & x86::rf_if, 0);
    expect_eq("outer RIP (end of int $0x83)", g_outer.rip, (u64)probe_nested_insn + 2);
    expect_eq("outer vector", g_outer.vector, VEC_NESTED);
}

void check_iretq() {
    // iretq within ring 0 to a new stack: what arrives is exactly what the frame held.
    alignas(16) static u8 stack[1024];
    u64 rsp = (u64)(stack + 512);
    u64 rflags = 0x8d7 | (broken() ? x86::rf_tf : 0);   // break: TF -> single-step #DB
    iretq_probe(rflags, rsp);
    expect_eq("RSP after iretq", iret_got_rsp, rsp);
    expect_eq("RFLAGS after iretq", iret_got_rflags, rflags);
    expect_eq("SS after iretq", iret_got_ss, KERNEL_DS);
    expect_eq("CS after iretq", iret_got_cs, KERNEL_CS);
}
