// The scanner must refuse what does not add up: corrupted records, truncated tables,
// and sensitive instructions nobody annotated.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>

#include "annotation_tables.h"
#include "assemble.h"
#include "elf_image.h"
#include "scanner.h"

using namespace afterburn;

namespace {

std::vector<char> read(const std::string &p)
{
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write(const std::string &p, const std::vector<char> &d)
{
    std::ofstream(p, std::ios::binary).write(d.data(), static_cast<std::streamsize>(d.size()));
}

// File offset of the first record of the first Afterburn note.
size_t first_record_offset(const std::string &path)
{
    std::string error;
    auto img = elf_image::load(path, error);
    REQUIRE(img);
    auto t = read_annotation_tables(*img);
    REQUIRE(!t.records.empty());
    return t.records[0].note->file_offset + t.records[0].note_offset;
}

scan_report rescan(const std::string &path)
{
    std::string error;
    auto img = elf_image::load(path, error);
    REQUIRE(img);
    return scan_image(*img);
}

} // namespace

TEST_CASE("a corrupted record is reported by name", "[scan][errors]")
{
    auto obj = test::assemble("corrupt", "\t.text\n\tcli\n\tmov %rax, %cr3\n\tret\n");
    REQUIRE(obj.status == 0);
    REQUIRE(rescan(obj.object).clean());
    size_t rec = first_record_offset(obj.object);

    SECTION("wrong kind") {
        auto d = read(obj.object);
        d[rec + 4] = static_cast<char>(site_kind::sti);
        write(obj.object, d);
        auto r = rescan(obj.object);
        CHECK(!r.clean());
        CHECK(r.bad_records == 1);
        REQUIRE(!r.bad.empty());
        CHECK(r.bad[0].find(".note.afterburn+0x") != std::string::npos);
        CHECK(r.all.unexplained == 1);  // the cli it no longer describes
    }
    SECTION("wrong length") {
        auto d = read(obj.object);
        d[rec + 5] = 2;
        write(obj.object, d);
        CHECK(rescan(obj.object).bad_records >= 1);
    }
    SECTION("wrong operand") {
        auto d = read(obj.object);
        d[rec + 20 + 9] = 4;  // second record: %cr3 -> %cr4
        write(obj.object, d);
        auto r = rescan(obj.object);
        CHECK(r.bad_records == 1);
        CHECK(r.bad[0].find("special") != std::string::npos);
    }
    SECTION("unknown kind") {
        auto d = read(obj.object);
        d[rec + 4] = static_cast<char>(200);
        write(obj.object, d);
        CHECK(rescan(obj.object).bad_records == 1);
    }
    SECTION("ragged table") {
        // Shrink descsz by one: the descriptor is no longer a whole number of records.
        auto d = read(obj.object);
        size_t note = rec - 8 - 12 - 12;  // header (8) + name (12) + note header (12)
        uint32_t descsz;
        std::memcpy(&descsz, &d[note + 4], 4);
        descsz -= 4;
        std::memcpy(&d[note + 4], &descsz, 4);
        write(obj.object, d);
        auto r = rescan(obj.object);
        CHECK(r.bad_records >= 1);
    }
}

namespace {

// File offset of the first byte of the object's .text.
size_t text_offset(const std::string &path)
{
    std::string error;
    auto img = elf_image::load(path, error);
    REQUIRE(img);
    for (const auto &s : img->sections())
        if (s.name == ".text") return s.file_offset;
    FAIL("no .text");
    return 0;
}

} // namespace

TEST_CASE("padding prefixes other than afterburn-as's form are refused by name", "[scan][errors][padding]")
{
    SECTION("a DS prefix among the CS padding") {
        auto obj = test::assemble("pad_ds", "\t.text\n\tcli\n\tret\n");
        REQUIRE(obj.status == 0);
        REQUIRE(rescan(obj.object).clean());
        auto d = read(obj.object);
        size_t text = text_offset(obj.object);
        REQUIRE(static_cast<uint8_t>(d[text]) == 0x2e);  // cli padded: 2e x7 fa
        REQUIRE(static_cast<uint8_t>(d[text + 7]) == 0xfa);
        d[text + 3] = 0x3e;
        write(obj.object, d);
        auto r = rescan(obj.object);
        CHECK(r.bad_records == 1);
        REQUIRE(!r.bad.empty());
        CHECK(r.bad[0].find("record .note.afterburn+0x") != std::string::npos);
        CHECK(r.bad[0].find("repeated or mixed segment-override prefixes") != std::string::npos);
    }
    SECTION("prefixes on outs, which keeps NOP padding") {
        auto obj = test::assemble("pad_outs", "\t.text\n\toutsb\n\tret\n");
        REQUIRE(obj.status == 0);
        REQUIRE(rescan(obj.object).clean());
        auto d = read(obj.object);
        size_t text = text_offset(obj.object), rec = first_record_offset(obj.object);
        REQUIRE(static_cast<uint8_t>(d[text]) == 0x6e);  // outsb, then 7 bytes of NOPs
        REQUIRE(d[rec + 6] == 7);
        for (int i = 0; i < 7; ++i) d[text + i] = 0x2e;
        d[text + 7] = 0x6e;
        d[rec + 5] = 8;     // insn_len
        d[rec + 6] = 0;     // pad_len
        d[rec + 13] = 1;    // mem_seg cs, as the bytes now say
        write(obj.object, d);
        auto r = rescan(obj.object);
        CHECK(r.bad_records == 1);
        REQUIRE(!r.bad.empty());
        CHECK(r.bad[0].find("record .note.afterburn+0x") != std::string::npos);
        CHECK(r.bad[0].find("padding prefixes on a kind or access form that is padded with NOPs") !=
              std::string::npos);
    }
    SECTION("prefixes beyond the minimum size") {
        // `cs cs cs cs ... cli` of 9 bytes where 8 suffice, the last NOP-free byte taken from ret.
        auto obj = test::assemble("pad_many", "\t.text\n\tcli\n\tnop\n\tret\n");
        REQUIRE(obj.status == 0);
        auto d = read(obj.object);
        size_t text = text_offset(obj.object), rec = first_record_offset(obj.object);
        REQUIRE(static_cast<uint8_t>(d[text + 8]) == 0x90);
        d[text + 7] = 0x2e;
        d[text + 8] = static_cast<char>(0xfa);
        d[rec + 5] = 9;
        write(obj.object, d);
        auto r = rescan(obj.object);
        CHECK(r.bad_records == 1);
        REQUIRE(!r.bad.empty());
        CHECK(r.bad[0].find("more padding prefixes than the kind's minimum site size needs") != std::string::npos);
    }
}

TEST_CASE("an unannotated sensitive instruction is unexplained", "[scan]")
{
    // Assembled by plain GNU as: nothing is annotated.
    auto dir = test::scratch_dir();
    std::string src = (dir / "plain.s").string(), obj = (dir / "plain.o").string();
    std::ofstream(src) << "\t.text\n\tcli\n\tsti\n\tret\n";
    REQUIRE(std::system(("as -o " + obj + " " + src).c_str()) == 0);
    auto r = rescan(obj);
    CHECK(!r.clean());
    CHECK(r.all.unexplained == 2);
    CHECK(r.records == 0);
}

TEST_CASE("a file that is not ELF is refused with a reason", "[scan][errors]")
{
    auto dir = test::scratch_dir();
    std::string p = (dir / "notelf").string();
    std::ofstream(p) << "hello";
    std::string error;
    CHECK(!elf_image::load(p, error));
    CHECK(error.find("not an ELF") != std::string::npos);
    std::ofstream(p, std::ios::binary) << std::string("\x7f" "ELF\x02\x01\x01", 7) << std::string(20, '\0');
    CHECK(!elf_image::load(p, error));
    CHECK(!error.empty());
}

TEST_CASE("fuzz finding: a relocatable section aligned to 2^48 is refused, not divided by", "[scan][errors][fuzz]")
{
    // tests/fuzz/regressions/elf/finding-1-addralign-2e48.o: found by bench/fuzz.sh (fuzz-elf);
    // `afterburn scan` died with SIGFPE while laying out the object's sections.
    std::string error;
    auto img = elf_image::load(AFTERBURN_SOURCE_DIR "/tests/fuzz/regressions/elf/finding-1-addralign-2e48.o", error);
    CHECK(!img);
    CHECK(error.find("section .text: alignment or size too large") != std::string::npos);
}

TEST_CASE("fuzz finding: a code section whose address range wraps around is refused, not swept", "[scan][errors][fuzz]")
{
    // tests/fuzz/regressions/elf/finding-2-code-section-address-wraps.o: found by ctest fuzz.elf;
    // an object's .shstrtab marked executable (not allocated) at sh_addr 0xfffffffffffffff7 with
    // 0x57 bytes: scan's sweep started past its end and read beyond the contents.
    std::string error;
    auto img = elf_image::load(
        AFTERBURN_SOURCE_DIR "/tests/fuzz/regressions/elf/finding-2-code-section-address-wraps.o", error);
    CHECK(!img);
    CHECK(error.find("section .shstrtab: address + size wraps around 2^64") != std::string::npos);
}
