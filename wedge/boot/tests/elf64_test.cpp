// Host tests of the freestanding ELF reader (wedge/boot/elf64): what it records from the
// program headers and how it names a malformed one.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "elf_builder.h"
#include "wedge/boot/elf64.h"

using namespace afterburn::boot;
using namespace afterburn::boot::test;

namespace {

constexpr uint64_t base_pa = 0x1000000, base_va = 0xffffffff81000000ull;
constexpr uint64_t phoff = 64, phdr_size = 56, filesz_at = 32, memsz_at = 40;

// Text (R+X, with the entry), data (R+W, with bss) and a note, in that header order.
std::vector<uint8_t> three_segments()
{
    return make_elf(base_pa + 0x10, {{1, base_va, base_pa, std::vector<uint8_t>(0x40, 0x90), 0x40, 5},
                                 {1, base_va + 0x1000, base_pa + 0x1000, std::vector<uint8_t>(0x20, 1), 0x3000, 6},
                                 {4, base_va + 0x20, base_pa + 0x20, std::vector<uint8_t>(24, 2), 24, 4}});
}

bool contains(const status& st, const std::string& s) { return std::string(st.text).find(s) != std::string::npos; }

} // namespace

TEST_CASE("elf64: PT_LOADs keep their flags and file offsets, PT_NOTEs their file offset")
{
    auto k = three_segments();
    elf64_image img;
    status st;
    REQUIRE(parse_elf64(k.data(), k.size(), "guest", true, img, st));
    REQUIRE(img.load_count == 2);
    CHECK(img.loads[0].flags == 5);
    CHECK(img.loads[1].flags == 6);
    CHECK(img.loads[1].memsz == 0x3000);
    CHECK(img.loads[1].offset == 64 + 3 * 56 + 0x40);
    REQUIRE(img.note_count == 1);
    CHECK(img.notes[0].vaddr == base_va + 0x20);
    CHECK(img.notes[0].size == 24);
    CHECK(img.notes[0].offset == 64 + 3 * 56 + 0x40 + 0x20);
    CHECK(k[img.notes[0].offset] == 2);
}

TEST_CASE("elf64: a PT_LOAD with p_filesz > p_memsz is refused, naming the segment and both sizes")
{
    elf64_image img;
    status st;
    SECTION("p_memsz 0 with file data")
    {
        auto k = three_segments();
        put<uint64_t>(k, phoff + 1 * phdr_size + memsz_at, 0);
        REQUIRE_FALSE(parse_elf64(k.data(), k.size(), "guest", true, img, st));
        CHECK(st.code == error::bad_segment);
        CHECK(std::string(st.text) == "guest: PT_LOAD 1: p_filesz > p_memsz (p_filesz 0x20, p_memsz 0x0)");
    }
    SECTION("p_filesz one byte larger than p_memsz")
    {
        auto k = three_segments();
        put<uint64_t>(k, phoff + filesz_at, 0x41);
        REQUIRE_FALSE(parse_elf64(k.data(), k.size(), "guest", true, img, st));
        CHECK(st.code == error::bad_segment);
        CHECK(std::string(st.text) == "guest: PT_LOAD 0: p_filesz > p_memsz (p_filesz 0x41, p_memsz 0x40)");
    }
    SECTION("p_memsz 0 and p_filesz 0 is an empty segment, not an error")
    {
        auto k = make_elf(base_pa, {{1, base_va, base_pa, std::vector<uint8_t>(16), 16, 5}, {1, base_va + 0x1000, base_pa + 0x1000, {}, 0, 6}});
        REQUIRE(parse_elf64(k.data(), k.size(), "guest", true, img, st));
        CHECK(img.load_count == 1);
    }
}

TEST_CASE("elf64: a PT_NOTE whose data lies beyond the end of the file is refused")
{
    auto k = three_segments();
    put<uint64_t>(k, phoff + 2 * phdr_size + filesz_at, 0x100000);
    elf64_image img;
    status st;
    REQUIRE_FALSE(parse_elf64(k.data(), k.size(), "guest", true, img, st));
    CHECK(st.code == error::bad_segment);
    CHECK(contains(st, "guest: PT_NOTE 2: file data ["));
    CHECK(contains(st, "lies beyond the end of the file (" + std::to_string(k.size()) + " bytes; truncated?)"));
}

TEST_CASE("elf64: the header of any little-endian ELF64 is read, others are refused")
{
    auto k = three_segments();
    put<uint16_t>(k, 18, 183);  // EM_AARCH64: read_elf64_header takes it, parse_elf64 does not
    put<uint16_t>(k, 16, 3);    // ET_DYN
    elf64_header h;
    status st;
    REQUIRE(read_elf64_header(k.data(), k.size(), "module", h, st));
    CHECK(h.type == 3);
    CHECK(h.machine == 183);
    CHECK(h.entry == base_pa + 0x10);
    CHECK(h.phoff == 64);
    CHECK(h.phnum == 3);
    elf64_image img;
    REQUIRE_FALSE(parse_elf64(k.data(), k.size(), "module", true, img, st));
    CHECK(std::string(st.text) == "module: not an x86-64 ELF (e_machine 183)");

    auto be = three_segments();
    be[5] = 2;
    REQUIRE_FALSE(read_elf64_header(be.data(), be.size(), "module", h, st));
    CHECK(st.code == error::not_elf);
    CHECK(std::string(st.text) == "module: not little-endian");

    REQUIRE_FALSE(read_elf64_header(k.data(), 63, "module", h, st));
    CHECK(std::string(st.text) == "module: not an ELF file (63 bytes, shorter than an ELF header)");
}
