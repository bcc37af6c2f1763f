// The one record check (rewriter/record_check.cpp) and the format document it implements.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "afterburn/annotation_reader.h"
#include "afterburn/record_check.h"

using namespace afterburn;
using namespace afterburn::annotation;

namespace {

// What afterburn-as writes for `out %al, $0x80` followed by 6 NOPs.
site_record out_record()
{
    site_record r{};
    r.site = -100;
    r.kind = static_cast<uint8_t>(site_kind::out);
    r.insn_len = 2;
    r.pad_len = 6;
    r.flags = 0;  // 8-bit, immediate port
    r.reg = r.special = r.mem_base = r.mem_index = r.mem_seg = no_register;
    r.disp_offset = no_displacement;
    r.imm = 0x80;
    return r;
}

site_record region_record(site_kind k, int32_t length)
{
    site_record r{};
    r.kind = static_cast<uint8_t>(k);
    r.reg = r.special = r.mem_base = r.mem_index = r.mem_seg = no_register;
    r.disp_offset = no_displacement;
    r.imm = length;
    return r;
}

} // namespace

TEST_CASE("check_record accepts what afterburn-as writes", "[record]")
{
    CHECK(check_record(out_record()) == record_error::ok);
    CHECK(check_record(region_record(site_kind::code16_region, 0x40)) == record_error::ok);
    CHECK(check_record(region_record(site_kind::code32_region, 0)) == record_error::ok);
    site_record sti = out_record();
    sti.kind = static_cast<uint8_t>(site_kind::sti);
    sti.insn_len = 1;
    sti.pad_len = 7;
    sti.flags = 3 | flag_pad_before;
    sti.imm = 0;
    CHECK(check_record(sti) == record_error::ok);
    site_record lgdt = out_record();  // lgdt 0x10(%rip): 0f 01 15 disp32
    lgdt.kind = static_cast<uint8_t>(site_kind::lgdt);
    lgdt.insn_len = 7;
    lgdt.pad_len = 1;
    lgdt.flags = 3 | flag_memory;
    lgdt.mem_base = rip_base;
    lgdt.mem_scale = 1;
    lgdt.disp_offset = 3;
    lgdt.disp_size = 4;
    lgdt.imm = 0;
    CHECK(check_record(lgdt) == record_error::ok);
}

TEST_CASE("check_record refuses every field the format document constrains", "[record]")
{
    site_record r = out_record();
    SECTION("unknown kind") {
        r.kind = static_cast<uint8_t>(site_kind_count);
        CHECK(check_record(r) == record_error::unknown_kind);
        r.kind = 200;
        CHECK(check_record(r) == record_error::unknown_kind);
    }
    SECTION("an out record turned into a region is not a region") {
        r.kind = static_cast<uint8_t>(site_kind::code16_region);
        CHECK(check_record(r) == record_error::region_fields);
        r.kind = static_cast<uint8_t>(site_kind::code32_region);
        CHECK(check_record(r) == record_error::region_fields);
    }
    SECTION("negative region length") {
        CHECK(check_record(region_record(site_kind::code16_region, -1)) == record_error::region_length);
    }
    SECTION("pad_len 0: below the minimum site size") {
        r.pad_len = 0;
        CHECK(check_record(r) == record_error::site_too_small);
        r.pad_len = 5;
        CHECK(check_record(r) == record_error::site_too_small);
    }
    SECTION("insn_len") {
        r.insn_len = 0;
        CHECK(check_record(r) == record_error::insn_len_range);
        r.insn_len = 16;
        CHECK(check_record(r) == record_error::insn_len_range);
    }
    SECTION("pad_before only with an interrupt shadow") {
        r.flags |= flag_pad_before;
        CHECK(check_record(r) == record_error::bad_pad_before);
    }
    SECTION("rep on in") {
        r.flags |= flag_rep;
        CHECK(check_record(r) == record_error::bad_flags);
    }
    SECTION("register") {
        r.reg = 3;
        CHECK(check_record(r) == record_error::bad_reg);
        r.flags |= flag_register;
        r.reg = 16;
        CHECK(check_record(r) == record_error::bad_reg);
    }
    SECTION("special") {
        r.special = 16;
        CHECK(check_record(r) == record_error::bad_special);
    }
    SECTION("memory fields without the memory flag") {
        r.mem_scale = 1;
        CHECK(check_record(r) == record_error::bad_memory);
    }
    SECTION("segment") {
        r.mem_seg = 6;
        CHECK(check_record(r) == record_error::bad_memory);
    }
    SECTION("displacement") {
        r.disp_size = 4;
        CHECK(check_record(r) == record_error::bad_displacement);
    }
    SECTION("port above 255") {
        r.imm = 256;
        CHECK(check_record(r) == record_error::bad_imm);
        r.imm = -1;
        CHECK(check_record(r) == record_error::bad_imm);
    }
    SECTION("every error has its own text") {
        for (unsigned e = 1; e <= static_cast<unsigned>(record_error::bad_access_form); ++e)
            CHECK(std::string(record_error_text(static_cast<record_error>(e))) != "unknown record error");
    }
}

namespace {

// What afterburn-as writes for a page-table store `andq $-33, 8(%rdi)` followed by 4 NOPs.
site_record page_table_record()
{
    site_record r{};
    r.kind = static_cast<uint8_t>(site_kind::page_table_store);
    r.insn_len = 5;
    r.pad_len = 3;
    r.flags = 3 | flag_memory;
    r.reg = no_register;
    r.special = static_cast<uint8_t>(page_table_form::memory_operand);
    r.mem_base = 7;
    r.mem_index = no_register;
    r.mem_scale = 1;
    r.mem_seg = no_register;
    r.disp_offset = 3;
    r.disp_size = 1;
    r.imm = -33;
    return r;
}

} // namespace

TEST_CASE("check_record keeps page-table sites strict", "[record]")
{
    site_record r = page_table_record();
    CHECK(check_record(r) == record_error::ok);
    r.kind = static_cast<uint8_t>(site_kind::page_table_load);
    CHECK(check_record(r) == record_error::ok);
    SECTION("block call: no memory operand, no immediate") {
        site_record c = page_table_record();
        c.flags = 3;
        c.special = static_cast<uint8_t>(page_table_form::block_call);
        c.mem_base = no_register;
        c.mem_scale = 0;
        c.disp_offset = no_displacement;
        c.disp_size = 0;
        c.imm = 0;
        CHECK(check_record(c) == record_error::ok);
        c.imm = 4;
        CHECK(check_record(c) == record_error::bad_imm);
        c.imm = 0;
        c.flags |= flag_rep;
        CHECK(check_record(c) == record_error::bad_access_form);
        c.flags = 3 | flag_rep;
        c.special = static_cast<uint8_t>(page_table_form::string);
        CHECK(check_record(c) == record_error::ok);
    }
    SECTION("access form out of range") {
        r.special = 3;
        CHECK(check_record(r) == record_error::bad_access_form);
        r.special = no_register;
        CHECK(check_record(r) == record_error::bad_access_form);
    }
    SECTION("memory form without the memory flag") {
        r.flags = 3;
        CHECK(check_record(r) == record_error::bad_access_form);
    }
    SECTION("too small, padded before, port flag") {
        site_record s = page_table_record();
        s.pad_len = 2;
        CHECK(check_record(s) == record_error::site_too_small);
        s = page_table_record();
        s.flags |= flag_pad_before;
        CHECK(check_record(s) == record_error::bad_pad_before);
        s = page_table_record();
        s.flags |= flag_port_dx;
        CHECK(check_record(s) == record_error::bad_flags);
    }
    SECTION("operand fields as strict as for any site") {
        r.mem_base = 17;
        CHECK(check_record(r) == record_error::bad_memory);
        r = page_table_record();
        r.disp_offset = 5;
        CHECK(check_record(r) == record_error::bad_displacement);
        r = page_table_record();
        r.reg = 3;
        CHECK(check_record(r) == record_error::bad_reg);
    }
}

TEST_CASE("the replacement flag must match the section", "[record]")
{
    site_record r = out_record();
    CHECK(check_placement(r, false) == placement_error::ok);
    CHECK(check_placement(r, true) == placement_error::replacement_missing);
    r.flags |= flag_replacement;
    CHECK(check_placement(r, true) == placement_error::ok);
    CHECK(check_placement(r, false) == placement_error::replacement_outside);
}

TEST_CASE("a table header with a non-zero reserved field is malformed", "[record]")
{
    // note header, "Afterburn\0" padded to 12, table header, one record.
    alignas(4) uint8_t note[12 + 12 + 8 + 20] = {};
    uint32_t head[3] = {10, 8 + 20, note_type_sites};
    __builtin_memcpy(note, head, 12);
    __builtin_memcpy(note + 12, note_name, note_name_size);
    table_header h{format_version, sizeof(site_record), 0};
    __builtin_memcpy(note + 24, &h, 8);
    site_record r = out_record();
    __builtin_memcpy(note + 32, &r, 20);
    unsigned seen = 0;
    auto ok = walk_tables(note, note + sizeof note, [&](const table_view &t) { seen += t.count; });
    CHECK(ok.error == table_error::ok);
    CHECK(seen == 1);
    h.reserved = 1;
    __builtin_memcpy(note + 24, &h, 8);
    auto bad = walk_tables(note, note + sizeof note, [&](const table_view &) {});
    CHECK(bad.error == table_error::reserved_nonzero);
    CHECK(std::string(table_error_text(bad.error)).find("reserved") != std::string::npos);
}

TEST_CASE("the format document's kind table matches site_kind.h", "[record][doc]")
{
    std::ifstream doc(AFTERBURN_SOURCE_DIR "/docs/annotation-format.md");
    REQUIRE(doc);
    std::string line;
    unsigned rows = 0;
    while (std::getline(doc, line)) {
        // Rows of the kind table: "| 12 | `lldt` | 8 |" (std::regex draws GCC 12 false
        // warnings under the sanitizers, so the row is split by hand).
        std::istringstream in(line);
        std::string bar1, number_text, bar2, name, bar3, size_text, bar4;
        if (!(in >> bar1 >> number_text >> bar2 >> name >> bar3 >> size_text >> bar4)) continue;
        if (bar1 != "|" || bar2 != "|" || bar3 != "|" || bar4 != "|" || name.size() < 3 || name.front() != '`' ||
            name.back() != '`' || number_text.find_first_not_of("0123456789") != std::string::npos ||
            size_text.find_first_not_of("0123456789") != std::string::npos)
            continue;
        unsigned number = std::stoul(number_text);
        INFO(line);
        REQUIRE(number == rows);  // numbered 0, 1, 2, ... with no gap
        REQUIRE(number < site_kind_count);
        CHECK(name.substr(1, name.size() - 2) == site_kind_name(static_cast<site_kind>(number)));
        CHECK(std::stoul(size_text) == site_kind_min_size(static_cast<site_kind>(number)));
        rows++;
    }
    CHECK(rows == site_kind_count);
}
