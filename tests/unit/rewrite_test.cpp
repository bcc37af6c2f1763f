// The load-time rewriter on real assembled sites: what each strategy leaves in the bytes.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "afterburn/site_rewriter.h"
#include "afterburn/wedge_abi.h"
#include "annotation_tables.h"
#include "assemble.h"
#include "image_rewriter.h"

using namespace afterburn;

namespace {

std::vector<uint8_t> read_file(const std::string &p)
{
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

int32_t rel32(const uint8_t *p) { return static_cast<int32_t>(p[0] | p[1] << 8 | p[2] << 16 | p[3] << 24); }

} // namespace

TEST_CASE("sites are rewritten into the wedge's entry window", "[rewriter]")
{
    auto obj = test::assemble("rw", "\t.text\n\tcli\n\tmov %rax, %cr3\n\tsti; hlt\n"
                                    "\t.pushsection .altinstr_replacement, \"ax\"\n\tclac\n\t.popsection\n\tret\n");
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    auto file = read_file(obj.object);
    auto report = rewrite_image(*img, file, wedge::plan_for(wedge::backend_id::xen));
    CHECK(report.failures.empty());
    CHECK(report.counts.rewritten == 5);

    auto tables = read_annotation_tables(*img);
    for (const auto &lr : tables.records) {
        auto span = rewriter::span_of(lr.record, lr.site);
        const elf_section *sec = img->section_at(span.start);
        REQUIRE(sec);
        const uint8_t *b = file.data() + sec->file_offset + (span.start - sec->addr);
        auto kind = static_cast<site_kind>(lr.record.kind);
        INFO(site_kind_name(kind));
        if (kind == site_kind::cli) {
            // movb $0, vcpu_virtual_if
            CHECK(b[0] == 0xc6);
            CHECK(b[1] == 0x04);
            CHECK(b[2] == 0x25);
            CHECK(static_cast<uint64_t>(static_cast<int64_t>(rel32(b + 3))) == wedge_abi::vcpu_virtual_if);
            CHECK(b[7] == 0);
        } else if (kind == site_kind::clac) {
            // .altinstr_replacement: call *slot(clac), position independent
            CHECK(b[0] == 0xff);
            CHECK(b[1] == 0x14);
            CHECK(static_cast<uint64_t>(static_cast<int64_t>(rel32(b + 3))) == wedge_abi::slot(kind));
        } else {
            REQUIRE(b[0] == 0xe8);
            CHECK(span.start + 5 + rel32(b + 1) == wedge_abi::entry(kind));
        }
        if (kind == site_kind::sti) {
            // Padded with prefixes, sti is one 8-byte instruction at its site: the call takes
            // its place, NOPs fill the rest but the last byte, an int3 guard (nothing returns
            // into the fill: the entry resumes at the span's end), and the hlt site (itself
            // rewritten to a call) still follows it directly.
            uint64_t at = lr.site - sec->addr + sec->file_offset;
            CHECK(span.start == lr.site);
            CHECK(span.size == 8);
            CHECK(file[at + 5] == 0x90);
            CHECK(file[at + 6] == 0x90);
            CHECK(file[at + 7] == 0xcc);
            CHECK(file[at + 8] == 0xe8);
        }
    }
}

TEST_CASE("NOP padding in front keeps the instruction a boundary (int3) after the call", "[rewriter]")
{
    // `fs; sti` keeps NOP padding (an override of its own), in front for the shadow.
    auto obj = test::assemble("rw_before", "\t.text\n\tfs; sti\n\thlt\n\tret\n");
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    auto file = read_file(obj.object);
    auto report = rewrite_image(*img, file, wedge::plan_for(wedge::backend_id::xen));
    CHECK(report.failures.empty());
    CHECK(report.counts.rewritten == 2);
    for (const auto &lr : read_annotation_tables(*img).records) {
        if (lr.record.kind != static_cast<uint8_t>(site_kind::sti)) continue;
        REQUIRE((lr.record.flags & annotation::flag_pad_before));
        auto span = rewriter::span_of(lr.record, lr.site);
        const elf_section *sec = img->section_at(span.start);
        REQUIRE(sec);
        uint64_t at = lr.site - sec->addr + sec->file_offset;
        CHECK(file[at - lr.record.pad_len] == 0xe8);  // the padding in front became the call
        CHECK(file[at] == 0xcc);                      // the instruction's first byte a boundary
        CHECK(file[at + lr.record.insn_len] == 0xe8);  // the hlt site follows directly
    }
}

TEST_CASE("a prefixed sti ends its rewritten span with an int3 guard in both call forms", "[rewriter]")
{
    annotation::site_record rec{};
    rec.kind = static_cast<uint8_t>(site_kind::sti);
    rec.insn_len = 8;  // 2e x7 fb
    rewriter::plan p = wedge::plan_for(wedge::backend_id::xen).kinds;
    for (bool pic : {false, true}) {
        INFO((pic ? "call *slot" : "call rel32"));
        uint8_t bytes[8] = {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0xfb};
        auto span = rewriter::span_of(rec, 0xffffffff81000000ull);
        REQUIRE(rewriter::rewrite_site(bytes, span, rec, p, pic) == rewriter::outcome::rewritten);
        unsigned call = pic ? rewriter::call_slot_len : rewriter::call_rel32_len;
        CHECK(bytes[0] == (pic ? 0xff : 0xe8));
        for (unsigned i = call; i < 7; ++i) CHECK(bytes[i] == 0x90);
        CHECK(bytes[7] == 0xcc);
    }
    // hlt, no shadow: NOPs to the end.
    rec.kind = static_cast<uint8_t>(site_kind::hlt);
    uint8_t hlt[8] = {0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0xf4};
    REQUIRE(rewriter::rewrite_site(hlt, rewriter::span_of(rec, 0xffffffff81000000ull), rec, p) ==
            rewriter::outcome::rewritten);
    CHECK(hlt[7] == 0x90);
}

TEST_CASE("a site too small for its replacement is reported, never skipped", "[rewriter]")
{
    annotation::site_record rec{};
    rec.kind = static_cast<uint8_t>(site_kind::hlt);
    rec.insn_len = 1;
    rec.pad_len = 2;  // 3 bytes: no room for a 5-byte call
    rewriter::plan p = wedge::plan_for(wedge::backend_id::xen).kinds;
    uint8_t bytes[3] = {0xf4, 0x66, 0x90};
    auto span = rewriter::span_of(rec, 0xffffffff81000000ull);
    CHECK(rewriter::rewrite_site(bytes, span, rec, p) == rewriter::outcome::too_small);
    CHECK(bytes[0] == 0xf4);  // untouched

    rec.pad_len = 7;
    uint8_t far[8] = {0xf4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
    auto low = rewriter::span_of(rec, 0x100000000ull);  // 4 GiB below the window: no rel32 reaches
    CHECK(rewriter::rewrite_site(far, low, rec, p) == rewriter::outcome::out_of_reach);
    CHECK(far[0] == 0xf4);
}
