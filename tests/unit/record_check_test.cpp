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

TEST_CASE("a site padded with prefixes: pad_before only with NOPs in front", "[record][padding]")
{
    site_record sti = out_record();  // 2e 2e 2e 2e 2e 2e 2e fb
    sti.kind = static_cast<uint8_t>(site_kind::sti);
    sti.insn_len = 8;
    sti.pad_len = 0;
    sti.flags = 3;
    sti.imm = 0;
    CHECK(check_record(sti) == record_error::ok);
    sti.flags |= flag_pad_before;  // no NOPs precede it: nothing to be before
    CHECK(check_record(sti) == record_error::bad_pad_before);
    sti.flags = 3;
    sti.insn_len = 1;
    sti.pad_len = 7;  // NOPs in front need the flag
    CHECK(check_record(sti) == record_error::bad_pad_before);
}

namespace {

site_record prefixed(site_kind k, uint8_t insn_len, uint8_t pad_len)
{
    site_record r = out_record();
    r.kind = static_cast<uint8_t>(k);
    r.insn_len = insn_len;
    r.pad_len = pad_len;
    r.flags = 3;
    r.imm = 0;
    return r;
}

} // namespace

TEST_CASE("padding prefixes: exactly afterburn-as's form, for every kind that takes it", "[record][padding]")
{
    // Every instruction kind with the shortest instruction it can be padded to, in both forms.
    for (unsigned k = 0; k < site_kind_count; ++k) {
        auto kind = static_cast<site_kind>(k);
        if (!site_kind_is_instruction(kind)) continue;
        INFO(site_kind_name(kind));
        const uint8_t core[] = {0x0f, 0x01, 0xf8};  // swapgs stands in: the check reads prefixes only
        uint8_t bytes[15];
        unsigned p = site_kind_min_size(kind) - sizeof core;
        for (unsigned i = 0; i < p; ++i) bytes[i] = padding_prefix;
        for (unsigned i = 0; i < sizeof core; ++i) bytes[p + i] = core[i];
        site_record r = prefixed(kind, static_cast<uint8_t>(p + sizeof core), 0);
        if (site_kind_is_page_table(kind)) {
            r.special = static_cast<uint8_t>(page_table_form::memory_operand);
            r.flags |= flag_memory;
            r.mem_base = 0;
            r.mem_scale = 1;
        }
        CHECK(record_takes_prefix_padding(r) == site_kind_takes_prefix_padding(kind));
        if (site_kind_takes_prefix_padding(kind)) {
            CHECK(check_padding_prefixes(r, bytes) == padding_error::ok);
            CHECK(padding_prefix_count(r, bytes) == p);
        } else {
            CHECK(check_padding_prefixes(r, bytes) == padding_error::prefixes_on_nop_kind);
        }
        // The NOP form: the bare instruction, NOPs after.
        site_record nops = prefixed(kind, sizeof core, static_cast<uint8_t>(site_kind_min_size(kind) - sizeof core));
        nops.special = r.special, nops.flags = r.flags, nops.mem_base = r.mem_base, nops.mem_scale = r.mem_scale;
        CHECK(check_padding_prefixes(nops, core) == padding_error::ok);
        CHECK(padding_prefix_count(nops, core) == 0);
    }
}

TEST_CASE("padding prefixes: every other form is refused", "[record][padding]")
{
    const uint8_t cli_8[] = {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0xfa};
    CHECK(check_padding_prefixes(prefixed(site_kind::cli, 8, 0), cli_8) == padding_error::ok);
    SECTION("DS instead of CS, or a mixture") {
        const uint8_t ds[] = {0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0xfa};
        CHECK(check_padding_prefixes(prefixed(site_kind::cli, 8, 0), ds) == padding_error::mixed_segment_prefixes);
        const uint8_t mixed[] = {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x3e, 0xfa};
        CHECK(check_padding_prefixes(prefixed(site_kind::cli, 8, 0), mixed) == padding_error::mixed_segment_prefixes);
    }
    SECTION("prefixes in front of an instruction with its own override") {
        const uint8_t gs[] = {0x2e, 0x2e, 0x2e, 0x65, 0x0f, 0x01, 0x38, 0x00};  // cs cs cs invlpg %gs:(%rax)
        site_record r = prefixed(site_kind::invlpg, 8, 0);
        CHECK(check_padding_prefixes(r, gs) == padding_error::mixed_segment_prefixes);
        const uint8_t own[] = {0x65, 0x0f, 0x01, 0x38};  // the same with NOPs after: its own override
        CHECK(check_padding_prefixes(prefixed(site_kind::invlpg, 4, 4), own) == padding_error::ok);
    }
    SECTION("prefixes and NOPs") {
        const uint8_t both[] = {0x2e, 0x2e, 0xfa};
        CHECK(check_padding_prefixes(prefixed(site_kind::cli, 3, 5), both) == padding_error::prefixes_and_nops);
        const uint8_t one[] = {0x2e, 0xfa};  // one CS override of its own, NOPs after
        CHECK(check_padding_prefixes(prefixed(site_kind::cli, 2, 6), one) == padding_error::ok);
    }
    SECTION("more prefixes than the minimum size needs") {
        uint8_t many[15];
        for (auto &b : many) b = 0x2e;
        many[14] = 0xfa;
        CHECK(check_padding_prefixes(prefixed(site_kind::cli, 15, 0), many) == padding_error::prefixes_past_minimum);
        // An instruction of 8 bytes or more needs none.
        const uint8_t long_insn[] = {0x2e, 0x2e, 0x48, 0x0f, 0x01, 0x3c, 0x25, 0, 0, 0, 0};  // cs cs invlpg abs32
        CHECK(check_padding_prefixes(prefixed(site_kind::invlpg, 11, 0), long_insn) ==
              padding_error::prefixes_past_minimum);
    }
    SECTION("prefixes on a kind that keeps NOPs") {
        const uint8_t outs[] = {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x6e};
        CHECK(check_padding_prefixes(prefixed(site_kind::outs, 8, 0), outs) == padding_error::prefixes_on_nop_kind);
        const uint8_t movs[] = {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0xf3, 0x48, 0xa5};
        site_record pt = prefixed(site_kind::page_table_store, 8, 0);
        pt.special = static_cast<uint8_t>(page_table_form::string);
        pt.flags |= flag_rep;
        CHECK(check_padding_prefixes(pt, movs) == padding_error::prefixes_on_nop_kind);
    }
    for (auto e : {padding_error::mixed_segment_prefixes, padding_error::prefixes_and_nops,
                   padding_error::prefixes_past_minimum, padding_error::prefixes_on_nop_kind})
        CHECK(std::string(padding_error_text(e)).find("prefix") != std::string::npos);
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
        // Rows of the kind table: "| 12 | `lldt` | 8 | prefixes, ... |" (std::regex draws GCC 12 false
        // warnings under the sanitizers, so the row is split by hand).
        std::istringstream in(line);
        std::string bar1, number_text, bar2, name, bar3, size_text, bar4, padding;
        if (!(in >> bar1 >> number_text >> bar2 >> name >> bar3 >> size_text >> bar4 >> padding)) continue;
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
        // The "native padding" column (Padding sizes): prefixes where site_kind.h says so.
        CHECK((padding == "prefixes" || padding == "prefixes,") ==
              site_kind_takes_prefix_padding(static_cast<site_kind>(number)));
        rows++;
    }
    CHECK(rows == site_kind_count);
}
