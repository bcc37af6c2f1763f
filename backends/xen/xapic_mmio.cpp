#include "xapic_mmio.h"

#include "guest_platform.h"
#include "run_stats.h"

namespace xw {

bool xapic_mmio(trap_frame *f, uint64_t cr2, uint64_t gpa) {
    wedge::vcpu &c = cpu();
    if ((gpa & ~0xfffull) != (c.apic_base & ~0xfffull) || (f->cs & 3) == 3 || c.cpl != 0) return false;
    uint8_t b[16];
    wedge::page_fault pf;
    if (!platform().be.read(f->rip, b, sizeof b, wedge::access_mode::supervisor, pf)) return false;
    unsigned i = 0, rex = 0;
    if ((b[i] & 0xf0) == 0x40) rex = b[i++];
    if (rex & 8) return false;  // 64-bit access to a 32-bit register
    uint8_t op = b[i++];
    constexpr uint8_t mov_store = 0x89, mov_load = 0x8b, mov_imm = 0xc7;
    if (op != mov_store && op != mov_load && op != mov_imm) return false;
    uint8_t modrm = b[i++];
    unsigned mod = modrm >> 6, reg = ((modrm >> 3) & 7) | ((rex & 4) << 1), rm = modrm & 7;
    if (mod == 3 || (op == mov_imm && (reg & 7) != 0)) return false;
    if (rm == 4) {
        uint8_t sib = b[i++];
        if (mod == 0 && (sib & 7) == 5) i += 4;
    } else if (mod == 0 && rm == 5) {
        i += 4;
    }
    i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    uint32_t offset = static_cast<uint32_t>(cr2 & 0xfff);
    if (offset & 3) return false;
    uint64_t *gpr[16] = {&f->rax, &f->rcx, &f->rdx, &f->rbx, &f->rsp, &f->rbp, &f->rsi, &f->rdi,
                         &f->r8,  &f->r9,  &f->r10, &f->r11, &f->r12, &f->r13, &f->r14, &f->r15};
    if (op == mov_load) {
        *gpr[reg] = platform().apic.read(offset);  // a 32-bit load zero-extends
    } else {
        uint32_t v;
        if (op == mov_imm) { __builtin_memcpy(&v, b + i, 4); i += 4; } else { v = static_cast<uint32_t>(*gpr[reg]); }
        platform().apic.write(offset, v);
    }
    f->rip += i;
    ++g_run_stats.xapic_accesses;
    return true;
}

} // namespace xw
