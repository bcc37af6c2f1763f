// Linux's alternatives: where rewritten .altinstr_replacement sites may be copied, read from
// .altinstructions in each layout Linux has used, and found again by a copy's return address.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "wedge/alternative_copies.h"

using namespace afterburn;
using namespace afterburn::wedge;

namespace {

constexpr uint64_t text = 0xffffffff81000000ull;
constexpr uint64_t repl_lo = 0xffffffff82000000ull, repl_hi = repl_lo + 0x100;
constexpr uint64_t table_va = 0xffffffff82100000ull;

annotation::site_record replacement_record(site_kind k, uint8_t insn_len, uint8_t pad_len)
{
    annotation::site_record r{};
    r.kind = static_cast<uint8_t>(k);
    r.insn_len = insn_len;
    r.pad_len = pad_len;
    r.flags = annotation::flag_replacement;
    r.reg = r.special = r.mem_base = r.mem_index = r.mem_seg = annotation::no_register;
    r.disp_offset = annotation::no_displacement;
    return r;
}

// .altinstructions built entry by entry, in the layout of `size` bytes (12, 13 or 14).
struct alt_table {
    unsigned size;
    std::vector<uint8_t> bytes;
    void add(uint64_t instr, uint64_t repl, uint8_t instrlen, uint8_t replacementlen)
    {
        uint64_t at = table_va + bytes.size();
        bytes.resize(bytes.size() + size, 0);
        uint8_t *e = bytes.data() + bytes.size() - size;
        auto put = [](uint8_t *p, int64_t v) { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); };
        put(e, static_cast<int64_t>(instr - at));
        put(e + 4, static_cast<int64_t>(repl - (at + 4)));
        unsigned lens = size == 14 ? 12 : 10;
        e[lens] = instrlen;
        e[lens + 1] = replacementlen;
    }
};

// A sealed table of rewritten replacement sites: rdtscp at repl_lo (3 + 5), and rdtsc
// at repl_lo + 0x13 (2 + 6) behind a 3-byte lfence.
void make_sites(site_table &t, uint8_t first_byte = 0x0f)
{
    REQUIRE(t.add(replacement_record(site_kind::rdtscp, 3, 5), repl_lo).what == admission::site);
    REQUIRE(t.add(replacement_record(site_kind::rdtsc, 2, 6), repl_lo + 0x13).what == admission::site);
    site_conflict c;
    REQUIRE(t.seal(c));
    for (uint32_t i = 0; i < t.count(); ++i) {
        t[i].rewritten = true;
        t[i].original[0] = first_byte;
    }
}

} // namespace

TEST_CASE("a rewritten replacement site is found at every place its alternative copies it", "[alternatives]")
{
    for (unsigned size : {12u, 13u, 14u}) {
        site_table_of<4> sites;
        make_sites(sites);
        alt_table at{size, {}};
        at.add(text + 0x100, repl_lo, 11, 8);         // read_tsc: rdtscp
        at.add(text + 0x100, repl_lo + 0x10, 11, 11);  // read_tsc: lfence; rdtsc
        at.add(text + 0x200, repl_lo, 8, 8);          // elsewhere: rdtscp again
        at.add(text + 0x300, repl_hi, 4, 0);          // an empty replacement (NOPs)
        alternative_copies_of<8> copies;
        alternatives_result r = copies.collect(sites, at.bytes.data(), at.bytes.size(), table_va, repl_lo, repl_hi);
        INFO("entry size " << size);
        REQUIRE(r.ok);
        CHECK(r.entry_size == size);
        CHECK(r.entries == 4);
        CHECK(r.copies == 3);
        bool ambiguous = true;
        const site_copy *c = copies.find_by_return(text + 0x100 + 7, uint8_t(site_kind::rdtscp), ambiguous);
        REQUIRE(c);
        CHECK_FALSE(ambiguous);
        CHECK(c->of->insn == repl_lo);
        CHECK(c->of->insn - c->alias() == text + 0x100);  // the instruction as it runs at the copy
        c = copies.find_by_return(text + 0x103 + 7, uint8_t(site_kind::rdtsc), ambiguous);
        REQUIRE(c);
        CHECK(c->of->insn - c->alias() == text + 0x103);
        CHECK(copies.find_by_return(text + 0x200 + 7, uint8_t(site_kind::rdtscp), ambiguous));
        // Another kind, or a return address that is not right after the call: no copy.
        CHECK_FALSE(copies.find_by_return(text + 0x100 + 7, uint8_t(site_kind::rdtsc), ambiguous));
        CHECK_FALSE(copies.find_by_return(text + 0x100 + 5, uint8_t(site_kind::rdtscp), ambiguous));
    }
}

TEST_CASE("two different replacements of one kind landing on one place are ambiguous", "[alternatives]")
{
    site_table_of<4> sites;
    REQUIRE(sites.add(replacement_record(site_kind::mov_to_cr, 3, 5), repl_lo).what == admission::site);
    REQUIRE(sites.add(replacement_record(site_kind::mov_to_cr, 3, 5), repl_lo + 8).what == admission::site);
    site_conflict conflict;
    REQUIRE(sites.seal(conflict));
    for (uint32_t i = 0; i < 2; ++i) {
        sites[i].rewritten = true;
        sites[i].original[0] = 0x0f, sites[i].original[1] = 0x22, sites[i].original[2] = 0xd8;  // mov %rax,%cr3
    }
    alt_table at{12, {}};
    at.add(text, repl_lo, 8, 8);
    at.add(text, repl_lo + 8, 8, 8);
    alternative_copies_of<4> copies;
    REQUIRE(copies.collect(sites, at.bytes.data(), at.bytes.size(), table_va, repl_lo, repl_hi).ok);
    bool ambiguous = true;
    CHECK(copies.find_by_return(text + 7, uint8_t(site_kind::mov_to_cr), ambiguous));
    CHECK_FALSE(ambiguous);  // the same instruction either way
    sites[1].original[2] = 0xdf;  // mov %rdi,%cr3
    CHECK(copies.find_by_return(text + 7, uint8_t(site_kind::mov_to_cr), ambiguous));
    CHECK(ambiguous);
}

TEST_CASE("a malformed .altinstructions is refused with a reason", "[alternatives]")
{
    site_table_of<4> sites;
    make_sites(sites);
    alternative_copies_of<8> copies;

    alt_table outside{12, {}};
    outside.add(text, repl_hi + 0x40, 8, 8);  // the replacement is not in .altinstr_replacement
    auto r = copies.collect(sites, outside.bytes.data(), outside.bytes.size(), table_va, repl_lo, repl_hi);
    CHECK_FALSE(r.ok);
    CHECK(std::strstr(r.why, "layout"));

    alt_table longer{12, {}};
    longer.add(text, repl_lo, 4, 8);  // a replacement longer than the original
    CHECK_FALSE(copies.collect(sites, longer.bytes.data(), longer.bytes.size(), table_va, repl_lo, repl_hi).ok);

    alt_table cut{12, {}};
    cut.add(text + 0x40, repl_lo, 8, 6);  // copies 6 bytes of the 8-byte rdtscp span
    r = copies.collect(sites, cut.bytes.data(), cut.bytes.size(), table_va, repl_lo, repl_hi);
    CHECK_FALSE(r.ok);
    CHECK(std::strstr(r.why, "replacementlen"));
    CHECK(r.where == table_va);

    alt_table many{12, {}};
    for (int i = 0; i < 9; ++i) many.add(text + 0x10 * i, repl_lo, 8, 8);
    r = copies.collect(sites, many.bytes.data(), many.bytes.size(), table_va, repl_lo, repl_hi);
    CHECK_FALSE(r.ok);
    CHECK(std::strstr(r.why, "holds"));
}

TEST_CASE("sites the plan left alone get no copy", "[alternatives]")
{
    site_table_of<4> sites;
    make_sites(sites);
    sites[0].rewritten = false;
    alt_table at{12, {}};
    at.add(text, repl_lo, 8, 8);
    alternative_copies_of<4> copies;
    auto r = copies.collect(sites, at.bytes.data(), at.bytes.size(), table_va, repl_lo, repl_hi);
    REQUIRE(r.ok);
    CHECK(r.copies == 0);
}
