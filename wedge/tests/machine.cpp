#include "machine.h"

namespace afterburn::wedge::test {

namespace {

constexpr uint32_t tss_limit = 0x68 + 0x80;
constexpr uint64_t code64_dpl0 = 0x00af9b000000ffffull;
constexpr uint64_t data_dpl0 = 0x00cf93000000ffffull;
constexpr uint64_t code32_dpl3 = 0x00cffb000000ffffull;
constexpr uint64_t data_dpl3 = 0x00cff3000000ffffull;
constexpr uint64_t code64_dpl3 = 0x00affb000000ffffull;

void system_descriptor(fake_backend &be, uint64_t at, uint64_t base, uint32_t limit, unsigned type)
{
    uint64_t low = (limit & 0xffff) | ((base & 0xffffff) << 16) | (static_cast<uint64_t>(0x80 | type) << 40) |
                   (static_cast<uint64_t>((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    be.poke(at, low);
    be.poke(at + 8, base >> 32);
}

cpuid_regs cpu_table(uint32_t leaf, uint32_t subleaf, bool amd)
{
    const uint32_t ones = 0xffffffffu;
    switch (leaf) {
    case 0:
        return amd ? cpuid_regs{0x10, 0x68747541, 0x444d4163, 0x69746e65}   // AuthenticAMD
                   : cpuid_regs{0x1f, 0x756e6547, 0x6c65746e, 0x49656e69};  // GenuineIntel
    case 1: return {0x000906ea, 0x01100800, ones, ones};
    case 4: return subleaf < 4 ? cpuid_regs{0x1c004121u + subleaf, 0x01c0003f, 0x3f, 0} : cpuid_regs{};
    case 5: return {0x40, 0x40, 3, 0x11142120};
    case 6: return {ones, ones, ones, ones};
    case 7: return subleaf == 0 ? cpuid_regs{2, ones, ones, ones} : cpuid_regs{ones, ones, ones, ones};
    case 0xa: return {0x07300404, 0, 0, 0x603};
    case 0xb: return {1, 2, 0x100, 0};
    case 0xd:
        switch (subleaf) {
        case 0: return {0x2ff, 2696, 2696, 0};  // x87 SSE AVX MPX(3,4) AVX-512(5-7) PKRU(9)
        case 1: return {0xf, 0, 0x100, 0};
        case 2: return {256, 576, 0, 0};
        case 3: return {64, 960, 0, 0};
        case 4: return {64, 1024, 0, 0};
        case 5: return {64, 1088, 0, 0};
        case 6: return {512, 1152, 0, 0};
        case 7: return {1024, 1664, 0, 0};
        case 9: return {8, 2688, 0, 0};
        default: return {};
        }
    case 0x40000000u: return {0x40000001u, 0x4b4d564b, 0x564b4d56, 0x4d};  // a hypervisor signature
    case 0x80000000u: return {0x80000008u, 0, 0, 0};
    case 0x80000001u: return {0, ones, ones, ones};
    case 0x80000007u: return {ones, ones, ones, ones};
    case 0x80000008u: return {0x3030, ones, ones, ones};
    default: return leaf >= 0x80000002u && leaf <= 0x80000006u ? cpuid_regs{0x20202020, 0x20202020, 0x20202020, 0x20202020}
                                                              : cpuid_regs{};
    }
}

} // namespace

cpuid_regs max_cpu(uint32_t leaf, uint32_t subleaf, void *) { return cpu_table(leaf, subleaf, false); }
cpuid_regs max_amd_cpu(uint32_t leaf, uint32_t subleaf, void *) { return cpu_table(leaf, subleaf, true); }

machine::machine()
{
    be.map(gdt, 0x1000);
    be.map(idt, 0x1000);
    be.map(tss, 0x1000);
    be.map(ldt, 0x1000);
    be.map(data, 0x1000);
    be.map(kstack_top - 0x4000, 0x4000);
    be.map(ist1_top - 0x2000, 0x2000);
    be.map(code, 0x1000, false, false);
    be.map(handler, 0x1000, false, false);
    be.map(user_data, 0x1000, true);
    be.map(user_stack_top - 0x2000, 0x2000, true);

    uint64_t descriptors[] = {0, 0x00cf9b000000ffffull, code64_dpl0, data_dpl0, code32_dpl3, data_dpl3, code64_dpl3, 0};
    for (unsigned i = 0; i < 8; ++i) be.poke(gdt + 8 * i, descriptors[i]);
    system_descriptor(be, gdt + tss_sel, tss, tss_limit, 11);  // busy: ltr was done
    system_descriptor(be, gdt + ldt_sel, ldt, 0xfff, 2);
    be.poke(ldt + 8, data_dpl3);  // LDT selector 0x0f: a user data segment

    be.poke<uint64_t>(tss + 4, kstack_top);   // RSP0
    be.poke<uint64_t>(tss + 0x24, ist1_top);  // IST1
    // I/O bitmap right after the TSS, covering ports 0-0x3ff, all denied; the TSS limit
    // ends it, so higher ports are denied too.
    be.poke<uint16_t>(tss + 0x66, 0x68);
    for (unsigned i = 0; i < 0x81; ++i) be.poke<uint8_t>(tss + 0x68 + i, 0xff);

    cpu.gdtr = {gdt, 0x5f};
    cpu.idtr = {idt, 0xfff};
    cpu.tr = {tss_sel, tss, tss_limit, true};
    cpu.selector[annotation::seg_cs] = kernel_cs;
    cpu.selector[annotation::seg_ss] = kernel_ds;
    cpu.efer |= efer::sce | efer::nxe;
    cpu.cpuid.build(max_cpu, nullptr);
    cpu.star = (static_cast<uint64_t>(user32_cs - 3) << 48) | (static_cast<uint64_t>(kernel_cs) << 32);

    f.gpr[rsp] = kstack_top - 0x100;
    f.rflags = flags::fixed1 | flags::if_;  // the real IF, always on under the wedge
    f.rip = code;
}

void machine::gate(uint8_t vector, uint64_t target, unsigned type, unsigned dpl, unsigned ist, bool present,
                   uint16_t selector)
{
    uint64_t low = (target & 0xffff) | (static_cast<uint64_t>(selector) << 16) | (static_cast<uint64_t>(ist) << 32) |
                   (static_cast<uint64_t>(type) << 40) | (static_cast<uint64_t>(dpl) << 45) |
                   (static_cast<uint64_t>(present) << 47) | (((target >> 16) & 0xffff) << 48);
    be.poke(idt + 16ull * vector, low);
    be.poke(idt + 16ull * vector + 8, target >> 32);
}

void machine::enter_user(uint64_t rip)
{
    cpu.cpl = 3;
    cpu.selector[annotation::seg_cs] = user_cs;
    cpu.selector[annotation::seg_ss] = user_ds;
    f.gpr[rsp] = user_stack_top - 0x100;
    f.rip = rip;
}

site_record record(site_kind kind, unsigned opsize_bits, uint8_t insn_len, uint8_t pad_len)
{
    site_record r{};
    r.kind = static_cast<uint8_t>(kind);
    r.insn_len = insn_len;
    r.pad_len = pad_len;
    r.flags = static_cast<uint8_t>(opsize_bits == 8 ? 0 : opsize_bits == 16 ? 1 : opsize_bits == 32 ? 2 : 3);
    r.reg = r.special = r.mem_base = r.mem_index = r.mem_seg = annotation::no_register;
    r.disp_offset = annotation::no_displacement;
    return r;
}

site_record with_reg(site_record r, uint8_t reg)
{
    r.reg = reg;
    r.flags |= annotation::flag_register;
    return r;
}

site_record with_special(site_record r, uint8_t special)
{
    r.special = special;
    return r;
}

site_record with_mem(machine &m, site_record r, uint8_t base, int8_t disp, uint8_t seg)
{
    r.flags |= annotation::flag_memory;
    r.mem_base = base;
    r.mem_scale = 1;
    r.mem_seg = seg;
    r.disp_offset = 2;
    r.disp_size = 1;
    m.be.poke<int8_t>(machine::code + 2, disp);
    return r;
}

} // namespace afterburn::wedge::test
