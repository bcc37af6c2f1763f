// The site table: admission of records, sorting, the overlap check, the lookups by return
// and by instruction address, and the overlay of original bytes.
#include <catch2/catch.hpp>

#include <cstring>

#include "afterburn/record_check.h"
#include "wedge/site_table.h"

using namespace afterburn;
using namespace afterburn::wedge;

namespace {

annotation::site_record record(site_kind k, uint8_t insn_len = 1, uint8_t pad_len = 7, uint8_t flags = 0)
{
    annotation::site_record r{};
    r.kind = static_cast<uint8_t>(k);
    r.insn_len = insn_len;
    r.pad_len = pad_len;
    r.flags = flags;
    // Operand fields as afterburn-as writes them for an operandless instruction or a region.
    r.reg = r.special = r.mem_base = r.mem_index = r.mem_seg = annotation::no_register;
    r.disp_offset = annotation::no_displacement;
    return r;
}

constexpr uint64_t text = 0xffffffff81000000ull;

} // namespace

TEST_CASE("the table admits instruction records and refuses malformed ones by name", "[site_table]")
{
    site_table_of<4> t;
    CHECK(t.add(record(site_kind::hlt), text).what == admission::site);
    CHECK(t.add(record(site_kind::none, 0, 8), text + 0x100).what == admission::not_site);
    auto region = record(site_kind::code16_region, 0, 0);
    region.imm = 64;
    CHECK(t.add(region, text + 0x200).what == admission::not_site);

    annotation::site_record unknown = record(site_kind::cli);
    unknown.kind = site_kind_count;
    admit_result r = t.add(unknown, text + 0x300);
    CHECK(r.what == admission::refused);
    CHECK(std::strcmp(r.why, "unknown site kind") == 0);
    annotation::site_record stray_reg = record(site_kind::cli);
    stray_reg.reg = 3;  // check_record: a register without the register flag
    CHECK(std::strcmp(t.add(stray_reg, text + 0x400).why, annotation::record_error_text(annotation::record_error::bad_reg)) == 0);
    CHECK(t.add(record(site_kind::code32_region, 3, 0), text).what == admission::refused);
    region.imm = -1;
    CHECK(t.add(region, text).what == admission::refused);
    CHECK(t.add(record(site_kind::cli, 0, 8), text).what == admission::refused);
    CHECK(t.add(record(site_kind::cli, 16, 0), text).what == admission::refused);
    CHECK(t.add(record(site_kind::wrmsr, 2, 31), text).what == admission::refused);
    CHECK(t.count() == 1);

    for (int i = 1; i < 4; ++i) CHECK(t.add(record(site_kind::cli), text + 0x1000 * i).what == admission::site);
    CHECK(t.add(record(site_kind::cli), text + 0x8000).what == admission::full);
}

TEST_CASE("seal sorts the sites and rejects overlaps and duplicates", "[site_table]")
{
    site_table_of<8> t;
    t.add(record(site_kind::sti, 1, 7, annotation::flag_pad_before), text + 0x27);  // span [0x20, 0x28)
    t.add(record(site_kind::cli), text + 0x10);
    t.add(record(site_kind::in, 2, 6), text + 0x30);
    site_conflict c;
    REQUIRE(t.seal(c));
    CHECK(t[0].start == text + 0x10);
    CHECK(t[1].start == text + 0x20);
    CHECK(t[1].insn == text + 0x27);
    CHECK(t[1].end == text + 0x28);
    CHECK(t[2].start == text + 0x30);

    site_table_of<8> dup;
    dup.add(record(site_kind::cli), text);
    dup.add(record(site_kind::cli), text);
    CHECK_FALSE(dup.seal(c));

    site_table_of<8> overlap;
    overlap.add(record(site_kind::cli), text);
    overlap.add(record(site_kind::hlt), text + 4);
    REQUIRE_FALSE(overlap.seal(c));
    CHECK(c.first->start == text);
    CHECK(c.second->start == text + 4);
}

TEST_CASE("lookups find rewritten sites by return address and any site by instruction", "[site_table]")
{
    site_table_of<8> t;
    t.add(record(site_kind::cli), text);
    t.add(record(site_kind::sti, 1, 7, annotation::flag_pad_before), text + 0x0f);  // [8, 0x10)
    t.add(record(site_kind::hlt), text + 0x40);
    site_conflict c;
    REQUIRE(t.seal(c));
    t[1].rewritten = true;
    t[2].rewritten = true;

    CHECK(t.find_by_return(text + 5) == nullptr);  // cli: not rewritten
    CHECK(t.find_by_return(text + 0x0d) == &t[1]);  // the call in front of sti returns here
    CHECK(t.find_by_return(text + 0x10) == &t[1]);  // the end of the span
    CHECK(t.find_by_return(text + 0x08) == nullptr);  // the end of the unrewritten cli
    CHECK(t.find_by_return(text + 0x45) == &t[2]);
    CHECK(t.find_by_return(text + 0x49) == nullptr);  // past the span
    CHECK(t.find_by_return(0) == nullptr);

    CHECK(t.find_by_insn(text) == &t[0]);
    CHECK(t.find_by_insn(text + 0x0f) == &t[1]);
    CHECK(t.find_by_insn(text + 0x08) == nullptr);  // padding, not the instruction
    CHECK(t.find_by_insn(text + 0x41) == nullptr);
}

TEST_CASE("after an interrupt-shadow site's call the guest resumes at the instruction it protects",
          "[site_table][shadow]")
{
    site_table_of<8> t;
    t.add(record(site_kind::sti, 8, 0), text);                                     // prefixed: [0, 8)
    t.add(record(site_kind::sti, 1, 7, annotation::flag_pad_before), text + 0x17);  // NOPs in front: [0x10, 0x18)
    t.add(record(site_kind::cli, 8, 0), text + 0x20);                               // prefixed, no shadow
    auto ss = record(site_kind::mov_to_seg, 2, 6);
    ss.special = annotation::seg_ss;
    ss.reg = 0;
    ss.flags = 2 | annotation::flag_register | annotation::flag_pad_before;
    t.add(ss, text + 0x36);                                                          // [0x30, 0x38)
    auto ss_prefixed = ss;
    ss_prefixed.insn_len = 8, ss_prefixed.pad_len = 0, ss_prefixed.flags &= ~annotation::flag_pad_before;
    t.add(ss_prefixed, text + 0x40);                                                 // [0x40, 0x48)
    site_conflict c;
    REQUIRE(t.seal(c));
    for (uint32_t i = 0; i < t.count(); ++i) CHECK(annotation::check_record(t[i].rec) == annotation::record_error::ok);
    // The call returns 5 bytes in; NOP fill follows, then the next instruction at the end.
    CHECK(t[0].resume_after_call(t[0].call_return()) == text + 8);
    CHECK(t[1].resume_after_call(t[1].call_return()) == text + 0x18);
    CHECK(t[2].resume_after_call(t[2].call_return()) == text + 0x25);  // no shadow: the fill is harmless
    CHECK(t[3].resume_after_call(t[3].call_return()) == text + 0x38);
    CHECK(t[4].resume_after_call(t[4].call_return()) == text + 0x48);
    CHECK(t[0].resume_after_call(t[0].call_return() - 0x1000, 0x1000) == text + 8 - 0x1000);  // at an alias
}

TEST_CASE("reads of a changed span see its original bytes", "[site_table]")
{
    site_table_of<4> t;
    t.add(record(site_kind::cli), text + 4);
    t.add(record(site_kind::hlt), text + 12);
    t.add(record(site_kind::rdtsc, 2, 6), text + 24);
    site_conflict c;
    REQUIRE(t.seal(c));
    for (uint32_t i = 0; i < 3; ++i) std::memset(t[i].original, 0x10 + i, site::max_span);
    t[0].rewritten = true;
    t[1].trapping = true;  // t[2] unchanged

    uint8_t buf[32];
    std::memset(buf, 0xee, sizeof buf);
    t.overlay_original(text, buf, sizeof buf);
    for (unsigned i = 0; i < 32; ++i) {
        INFO(i);
        uint8_t want = i >= 4 && i < 12 ? 0x10 : i >= 12 && i < 20 ? 0x11 : 0xee;
        CHECK(buf[i] == want);
    }
    uint8_t mid[3];
    std::memset(mid, 0xee, sizeof mid);
    t.overlay_original(text + 10, mid, sizeof mid);  // the end of one span, the start of the next
    CHECK(mid[0] == 0x10);
    CHECK(mid[1] == 0x10);
    CHECK(mid[2] == 0x11);
    t.overlay_original(text, mid, 0);  // nothing to do
}
