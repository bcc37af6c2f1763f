// The arithmetic flags of the page-table fast path's `test` and `cmp` (page_table_fast_path.cpp):
// as the CPU sets them and as the core's emulation (wedge/page_table_access.cpp) does, AF clear
// after `test` (undefined on the CPU). Plain functions, host-tested against the host CPU
// (tests/page_table_fast_flags_test.cpp).
#pragma once

#include <stdint.h>

#include "wedge/frame.h"

namespace xw::fast_flags {

namespace fl = afterburn::wedge::flags;

inline constexpr uint64_t arithmetic = fl::cf | fl::pf | fl::af | fl::zf | fl::sf | fl::of;

// ZF, SF and PF (even parity of the low byte) of a `bits`-wide result.
inline uint64_t of_result(uint64_t r, unsigned bits) {
    r = afterburn::wedge::truncate(r, bits);
    uint8_t low = static_cast<uint8_t>(r);
    low ^= low >> 4;
    low ^= low >> 2;
    low ^= low >> 1;
    return (r ? 0 : fl::zf) | ((r >> (bits - 1)) & 1 ? fl::sf : 0) | ((low & 1) ? 0 : fl::pf);
}

// test a, b: the result's ZF SF PF; CF, OF (and AF) clear.
inline uint64_t of_test(uint64_t a, uint64_t b, unsigned bits) { return of_result(a & b, bits); }

// cmp: the flags of a - b.
inline uint64_t of_compare(uint64_t a, uint64_t b, unsigned bits) {
    a = afterburn::wedge::truncate(a, bits), b = afterburn::wedge::truncate(b, bits);
    const uint64_t r = afterburn::wedge::truncate(a - b, bits);
    return of_result(r, bits) | (a < b ? fl::cf : 0) | ((a ^ b ^ r) & 0x10 ? fl::af : 0) |
           (((a ^ b) & (a ^ r)) >> (bits - 1) & 1 ? fl::of : 0);
}

} // namespace xw::fast_flags
