#include "entry_decode.h"

namespace xw {

namespace {

int32_t rel32(const uint8_t *b) {
    return static_cast<int32_t>(b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24);
}

bool is_rex_w(uint8_t b) { return (b & 0xf8) == 0x48; }

// xor r32, r32 / xor r64, r64 in register form: plain unless it writes %rsp (no REX.B, rm 4).
unsigned xor_reg_length(const uint8_t *b) {
    unsigned p = 0;
    uint8_t rex = 0;
    if ((b[0] & 0xf0) == 0x40) rex = b[p++];
    if (b[p] != 0x31 && b[p] != 0x33) return 0;
    uint8_t modrm = b[p + 1];
    if (modrm >> 6 != 3) return 0;
    unsigned dest = b[p] == 0x31 ? (modrm & 7) | (rex & 1) << 3 : (modrm >> 3 & 7) | (rex & 4) << 1;
    if (dest == 4) return 0;
    return p + 2;
}

} // namespace

unsigned nop_length(const uint8_t *b) {
    unsigned p = 0;
    while (p < 8 && (b[p] == 0x66 || b[p] == 0x2e)) ++p;
    if (b[p] == 0x90) return p + 1;
    if (b[p] != 0x0f || b[p + 1] != 0x1f) return 0;
    uint8_t modrm = b[p + 2];
    if ((modrm >> 3 & 7) != 0) return 0;
    unsigned mod = modrm >> 6, rm = modrm & 7, n = p + 3;
    if (mod == 3) return n;
    if (rm == 4) ++n;  // SIB
    if (mod == 0 && rm == 5) return n + 4;
    return n + (mod == 1 ? 1 : mod == 2 ? 4 : 0);
}

entry_step decode_entry_step(const uint8_t *b) {
    using k = entry_step_kind;
    entry_step s;
    auto is = [&](k kind, unsigned length) {
        s.kind = kind;
        s.length = static_cast<uint8_t>(length);
        return s;
    };
    if (unsigned n = nop_length(b)) return is(k::plain, n);
    if (b[0] == 0xfc) return is(k::plain, 1);  // cld
    // lfence, mfence, sfence (Linux's ALTERNATIVE "", "mfence", X86_BUG_SWAPGS_FENCE)
    if (b[0] == 0x0f && b[1] == 0xae && (b[2] == 0xe8 || b[2] == 0xf0 || b[2] == 0xf8)) return is(k::plain, 3);
    if (b[0] >= 0x50 && b[0] <= 0x57) return is(k::push, 1);
    if (b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57) return is(k::push, 2);
    if (b[0] == 0x6a) return is(k::push, 2);
    if (b[0] == 0x68) return is(k::push, 5);
    if (b[0] == 0xe8 || b[0] == 0xe9) {
        s.target = rel32(b + 1);
        return is(b[0] == 0xe8 ? k::call : k::jump, 5);
    }
    if (b[0] == 0xeb) {
        s.target = static_cast<int8_t>(b[1]);
        return is(k::jump, 2);
    }
    if (unsigned n = xor_reg_length(b)) return is(k::plain, n);
    // mov disp8(%rsp), r64 (not into %rsp) and mov r64, disp8(%rsp): modrm mod 01 rm 100, SIB 24.
    if (is_rex_w(b[0]) && (b[1] == 0x8b || b[1] == 0x89) && (b[2] & 0xc7) == 0x44 && b[3] == 0x24) {
        s.disp = static_cast<int8_t>(b[4]);
        if (b[1] == 0x89) return is(k::store_rsp, 5);
        if ((b[2] >> 3 & 7) == 4 && !(b[0] & 4)) return s;  // a load into %rsp
        return is(k::plain, 5);
    }
    // testb $3, disp8(%rsp) (f6 44 24 d8 03) or disp32(%rsp) (f6 84 24 d32 03), then je.
    if (b[0] == 0xf6 && (b[1] == 0x44 || b[1] == 0x84) && b[2] == 0x24) {
        unsigned n = b[1] == 0x44 ? 4 : 7;
        if (b[n] != 0x03) return s;
        s.disp = b[1] == 0x44 ? static_cast<int8_t>(b[3]) : rel32(b + 3);
        ++n;
        if (b[n] == 0x74) return is(k::test_rpl_je, n + 2);
        if (b[n] == 0x0f && b[n + 1] == 0x84) return is(k::test_rpl_je, n + 6);
        return entry_step{};
    }
    return s;
}

} // namespace xw
