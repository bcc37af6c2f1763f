// The guest's general-purpose register frame, as a wedge entry stub saves it: the 16 GPRs
// by hardware number, rip and the real rflags. The arithmetic flags in `rflags` are the
// guest's own (they are live on the real CPU); IF and IOPL are virtual and live in the vCPU.
#pragma once

#include <stdint.h>

namespace afterburn::wedge {

// Hardware register numbers, the numbering annotation records use.
enum gpr : uint8_t {
    rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15,
};

struct frame {
    uint64_t gpr[16];
    uint64_t rip;
    uint64_t rflags;
};

// RFLAGS bits.
namespace flags {
inline constexpr uint64_t cf = 1ull << 0;
inline constexpr uint64_t fixed1 = 1ull << 1;  // always reads as 1
inline constexpr uint64_t pf = 1ull << 2;
inline constexpr uint64_t af = 1ull << 4;
inline constexpr uint64_t zf = 1ull << 6;
inline constexpr uint64_t sf = 1ull << 7;
inline constexpr uint64_t tf = 1ull << 8;
inline constexpr uint64_t if_ = 1ull << 9;
inline constexpr uint64_t df = 1ull << 10;
inline constexpr uint64_t of = 1ull << 11;
inline constexpr uint64_t iopl = 3ull << 12;
inline constexpr unsigned iopl_shift = 12;
inline constexpr uint64_t nt = 1ull << 14;
inline constexpr uint64_t rf = 1ull << 16;
inline constexpr uint64_t vm = 1ull << 17;
inline constexpr uint64_t ac = 1ull << 18;
inline constexpr uint64_t vif = 1ull << 19;
inline constexpr uint64_t vip = 1ull << 20;
inline constexpr uint64_t id = 1ull << 21;
// The bits the guest owns on the real CPU; everything else in its view is virtual.
inline constexpr uint64_t real = cf | pf | af | zf | sf | tf | df | of | nt | ac | id;
} // namespace flags

// Writes a register the way an instruction of `bits` operand size does: 32-bit writes
// zero-extend, 8- and 16-bit writes keep the rest of the register.
inline void write_gpr(frame &f, unsigned reg, uint64_t value, unsigned bits)
{
    uint64_t &r = f.gpr[reg & 15];
    switch (bits) {
    case 8: r = (r & ~0xffull) | (value & 0xff); break;
    case 16: r = (r & ~0xffffull) | (value & 0xffff); break;
    case 32: r = value & 0xffffffffull; break;
    default: r = value; break;
    }
}

inline uint64_t truncate(uint64_t value, unsigned bits)
{
    return bits >= 64 ? value : value & ((1ull << bits) - 1);
}

} // namespace afterburn::wedge
