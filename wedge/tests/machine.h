// A small guest machine for the tests: the fake backend's memory holds a Linux-like GDT
// (kernel CS 0x10, DS 0x18, user32 CS 0x23, user DS 0x2b, user CS 0x33, TSS 0x40, LDT 0x50),
// an IDT, a TSS with RSP0 and IST1, kernel, IST and user stacks and a code page holding the
// site. The vCPU runs at CPL 0 in long mode with a CPUID policy built from a "max" CPU that
// reports every feature bit.
#pragma once

#include "afterburn/annotation.h"
#include "fake_backend.h"
#include "wedge/dispatch.h"
#include "wedge/emulate.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge::test {

using annotation::site_record;

// Every feature bit set, real-looking leaf 0/0xd/0x8000_0008 values.
cpuid_regs max_cpu(uint32_t leaf, uint32_t subleaf, void *);
cpuid_regs max_amd_cpu(uint32_t leaf, uint32_t subleaf, void *);

inline constexpr uint16_t kernel_cs = 0x10, kernel_ds = 0x18, user32_cs = 0x23, user_ds = 0x2b, user_cs = 0x33,
                          tss_sel = 0x40, ldt_sel = 0x50;

struct machine {
    static constexpr uint64_t gdt = 0xffff888000001000ull, idt = 0xffff888000002000ull,
                              tss = 0xffff888000003000ull, ldt = 0xffff888000004000ull,
                              data = 0xffff888000005000ull,  // a kernel data page for operands
                              kstack_top = 0xffff888000010000ull, ist1_top = 0xffff888000020000ull,
                              code = 0xffffffff81000000ull, user_data = 0x0000000000600000ull,
                              user_stack_top = 0x00007ffffff00000ull, handler = 0xffffffff81100000ull;

    fake_backend be;
    vcpu cpu;
    frame f{};

    machine();

    // IDT gate: type 14 = interrupt gate, 15 = trap gate.
    void gate(uint8_t vector, uint64_t target, unsigned type = 14, unsigned dpl = 0, unsigned ist = 0,
              bool present = true, uint16_t selector = kernel_cs);
    void enter_user(uint64_t rip = 0x401000);

    emulation run(const site_record &rec) { return emulate(cpu, f, rec, code, be); }
    site_exit exec(const site_record &rec) { return run_site(cpu, f, rec, code, be); }
    uint64_t end(const site_record &rec) const { return site_end(rec, code); }
};

// Record builders.
site_record record(site_kind kind, unsigned opsize_bits = 64, uint8_t insn_len = 3, uint8_t pad_len = 5);
site_record with_reg(site_record r, uint8_t reg);
site_record with_special(site_record r, uint8_t special);
// A memory operand [base + disp8] whose displacement byte the machine writes into the code.
site_record with_mem(machine &m, site_record r, uint8_t base, int8_t disp, uint8_t seg = annotation::no_register);

} // namespace afterburn::wedge::test
