// The page-table fast path's test/cmp flags (page_table_fast_flags.h) against this host CPU
// running the same instructions at every width, over values around the width's edges.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "page_table_fast_flags.h"

namespace {

using namespace xw::fast_flags;

// The host's flags after `op a, b` at `bits` (AT&T: op b, a), as the site's `op (mem), b`.
template <bool compare>
uint64_t host(uint64_t a, uint64_t b, unsigned bits) {
    uint64_t fl = 0;
    switch (bits) {
    case 8:
        if (compare) asm("cmpb %b2, %b1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "q"(a), "q"(b) : "cc");
        else asm("testb %b2, %b1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "q"(a), "q"(b) : "cc");
        break;
    case 16:
        if (compare) asm("cmpw %w2, %w1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc");
        else asm("testw %w2, %w1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc");
        break;
    case 32:
        if (compare) asm("cmpl %k2, %k1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc");
        else asm("testl %k2, %k1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc");
        break;
    default:
        if (compare) asm("cmpq %2, %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc");
        else asm("testq %2, %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc");
        break;
    }
    return fl & arithmetic;
}

std::vector<uint64_t> values() {
    std::vector<uint64_t> v = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
                               0xffffffff, 0x8000000000000000ull, 0x7fffffffffffffffull, ~0ull,
                               0x8000000000000067ull, 0x00000001234567e3ull, 0xffff888000001063ull, 0x10};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 40; ++i) v.push_back(x = x * 6364136223846793005ull + 1442695040888963407ull);
    return v;
}

} // namespace

TEST_CASE("the fast path's cmp flags are the CPU's at every width") {
    for (unsigned bits : {8u, 16u, 32u, 64u})
        for (uint64_t a : values())
            for (uint64_t b : values()) {
                INFO("bits " << bits << " a " << a << " b " << b);
                REQUIRE(of_compare(a, b, bits) == host<true>(a, b, bits));
            }
}

TEST_CASE("the fast path's test flags are the CPU's at every width (AF undefined there, clear here)") {
    for (unsigned bits : {8u, 16u, 32u, 64u})
        for (uint64_t a : values())
            for (uint64_t b : values()) {
                INFO("bits " << bits << " a " << a << " b " << b);
                REQUIRE((of_test(a, b, bits) & fl::af) == 0);
                REQUIRE(of_test(a, b, bits) == (host<false>(a, b, bits) & ~fl::af));
            }
}
