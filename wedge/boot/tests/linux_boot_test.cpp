// Host tests of the guest loader (wedge/boot): synthetic ELF64 kernels loaded into a
// vector standing in for guest RAM, checked byte by byte against the boot protocol.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "elf_builder.h"
#include "wedge/boot/linux_boot.h"

using namespace afterburn::boot;
using namespace afterburn::boot::test;

namespace {

constexpr uint64_t mib = 1 << 20;
constexpr uint64_t kernel_pa = 16 * mib, kernel_va = 0xffffffff81000000ull;

// A Linux-like kernel: text at 16 MiB (linked high), 0x3000 file bytes + 0x5000 bss; entry
// physical, 0x100 into the segment.
std::vector<uint8_t> linux_like()
{
    std::vector<uint8_t> text(0x3000);
    for (size_t i = 0; i < text.size(); i++) text[i] = static_cast<uint8_t>(i * 7 + 1);
    return make_elf(kernel_pa + 0x100, {{1, kernel_va, kernel_pa, text, 0x8000}, {4, kernel_va + 0x10, kernel_pa + 0x10, std::vector<uint8_t>(16), 16}});
}

struct machine {
    std::vector<uint8_t> mem;
    guest_ram ram{};
    explicit machine(uint64_t bytes) : mem(bytes, 0xcc)
    {
        ram.ranges[0] = {0, bytes, mem.data()};
        ram.count = 1;
    }
};

boot_request request(const std::vector<uint8_t>& k, const char* cmdline = "console=ttyS0")
{
    boot_request r{};
    r.kernel = k.data();
    r.kernel_size = k.size();
    r.cmdline = cmdline;
    r.boot_params_gpa = 0x7000;
    r.cmdline_gpa = 0x20000;
    r.cmdline_max = 2048;
    r.kernel_min_gpa = mib;
    return r;
}

} // namespace

TEST_CASE("a kernel loads at p_paddr, bss zeroed, boot_params as the 64-bit protocol wants")
{
    auto k = linux_like();
    machine m(64 * mib);
    boot_request req = request(k);
    boot_result out;
    status st;
    REQUIRE(load_linux(req, m.ram, out, st));
    CHECK(st.ok());
    CHECK(out.entry_phys == kernel_pa + 0x100);
    CHECK(out.entry_virt == kernel_va + 0x100);
    CHECK(out.boot_params == 0x7000);
    CHECK(std::memcmp(m.mem.data() + kernel_pa, k.data() + 64 + 2 * 56, 0x3000) == 0);
    for (uint64_t a = kernel_pa + 0x3000; a < kernel_pa + 0x8000; a++) REQUIRE(m.mem[a] == 0);
    CHECK(m.mem[kernel_pa + 0x8000] == 0xcc);  // nothing beyond p_memsz
    CHECK(out.kernel.note_count == 1);
    CHECK(out.kernel.notes[0].vaddr == kernel_va + 0x10);

    const uint8_t* bp = m.mem.data() + 0x7000;
    CHECK(get<uint16_t>(bp + 0x1fe) == 0xaa55);
    CHECK(get<uint32_t>(bp + 0x202) == 0x53726448);
    CHECK(get<uint32_t>(bp + 0x228) == 0x20000);
    CHECK(std::string(reinterpret_cast<const char*>(m.mem.data() + 0x20000)) == "console=ttyS0");
    CHECK(get<uint32_t>(bp + 0x218) == 0);  // no initrd
    CHECK(get<uint32_t>(bp + 0x21c) == 0);
    // e820: [0, 640K) RAM, [640K, 1M) reserved, [1M, 64M) RAM.
    REQUIRE(bp[0x1e8] == 3);
    CHECK(get<uint64_t>(bp + 0x2d0) == 0);
    CHECK(get<uint64_t>(bp + 0x2d0 + 8) == 0xa0000);
    CHECK(get<uint32_t>(bp + 0x2d0 + 16) == 1);
    CHECK(get<uint32_t>(bp + 0x2d0 + 20 + 16) == 2);
    CHECK(get<uint64_t>(bp + 0x2d0 + 40) == mib);
    CHECK(get<uint64_t>(bp + 0x2d0 + 48) == 63 * mib);
}

TEST_CASE("the initrd goes to the top of RAM, below a reserved range, and boot_params names it")
{
    auto k = linux_like();
    machine m(64 * mib);
    std::vector<uint8_t> initrd(12345);
    for (size_t i = 0; i < initrd.size(); i++) initrd[i] = static_cast<uint8_t>(i ^ 0x5a);
    boot_request req = request(k);
    req.initrd = initrd.data();
    req.initrd_size = initrd.size();
    req.reserved[0] = {62 * mib, 2 * mib};  // e.g. the wedge's block
    req.reserved_count = 1;
    boot_result out;
    status st;
    REQUIRE(load_linux(req, m.ram, out, st));
    CHECK(out.initrd_size == initrd.size());
    CHECK(out.initrd_gpa % 4096 == 0);
    CHECK(out.initrd_gpa + initrd.size() <= 62 * mib);
    CHECK(out.initrd_gpa + initrd.size() > 62 * mib - 4096);
    CHECK(std::memcmp(m.mem.data() + out.initrd_gpa, initrd.data(), initrd.size()) == 0);
    const uint8_t* bp = m.mem.data() + 0x7000;
    CHECK(get<uint32_t>(bp + 0x218) == out.initrd_gpa);
    CHECK(get<uint32_t>(bp + 0x21c) == initrd.size());
    // e820: the reserved range is split out of RAM.
    REQUIRE(bp[0x1e8] == 4);
    CHECK(get<uint64_t>(bp + 0x2d0 + 60) == 62 * mib);
    CHECK(get<uint64_t>(bp + 0x2d0 + 68) == 2 * mib);
    CHECK(get<uint32_t>(bp + 0x2d0 + 76) == 2);
}

TEST_CASE("too little memory: for the kernel, and for the initrd above it")
{
    auto k = linux_like();
    boot_result out;
    status st;
    {
        machine m(8 * mib);
        REQUIRE_FALSE(load_linux(request(k), m.ram, out, st));
        CHECK(st.code == error::outside_ram);
        CHECK(std::string(st.text).find("needs at least 17 MiB") != std::string::npos);
    }
    {
        machine m(20 * mib);
        std::vector<uint8_t> initrd(6 * mib);
        boot_request req = request(k);
        req.initrd = initrd.data();
        req.initrd_size = initrd.size();
        REQUIRE_FALSE(load_linux(req, m.ram, out, st));
        CHECK(st.code == error::no_room_for_initrd);
        CHECK(std::string(st.text).find("needs at least 23 MiB") != std::string::npos);
    }
}

TEST_CASE("bad kernels are refused with the reason")
{
    machine m(64 * mib);
    boot_result out;
    status st;
    auto k = linux_like();

    std::vector<uint8_t> truncated(k.begin(), k.begin() + 0x1000);
    REQUIRE_FALSE(load_linux(request(truncated), m.ram, out, st));
    CHECK(st.code == error::bad_segment);
    CHECK(std::string(st.text).find("truncated") != std::string::npos);

    std::vector<uint8_t> magic = k;
    magic[1] = 'X';
    REQUIRE_FALSE(load_linux(request(magic), m.ram, out, st));
    CHECK(st.code == error::not_elf);

    std::vector<uint8_t> headers(k.begin(), k.begin() + 80);
    REQUIRE_FALSE(load_linux(request(headers), m.ram, out, st));
    CHECK(st.code == error::bad_headers);

    auto virt_entry = make_elf(kernel_va, {{1, kernel_va, kernel_pa, std::vector<uint8_t>(16), 16}});
    REQUIRE_FALSE(load_linux(request(virt_entry), m.ram, out, st));
    CHECK(st.code == error::bad_entry);

    auto low = make_elf(0x8000, {{1, 0x8000, 0x8000, std::vector<uint8_t>(16), 16}});
    REQUIRE_FALSE(load_linux(request(low), m.ram, out, st));
    CHECK(st.code == error::overlaps);

    std::string long_line(3000, 'x');
    REQUIRE_FALSE(load_linux(request(k, long_line.c_str()), m.ram, out, st));
    CHECK(st.code == error::cmdline_too_long);
}

TEST_CASE("RAM in two ranges (the 3-4 GiB hole): segments and the map follow the ranges")
{
    // Two small host buffers stand in for [0, 32 MiB) and [4 GiB, 4 GiB + 1 MiB).
    std::vector<uint8_t> low(32 * mib), high(mib);
    guest_ram ram{};
    ram.ranges[0] = {0, low.size(), low.data()};
    ram.ranges[1] = {1ull << 32, high.size(), high.data()};
    ram.count = 2;
    auto k = make_elf((1ull << 32) + 0x10, {{1, 0xffffffff80000000ull, 1ull << 32, std::vector<uint8_t>(64, 0x90), 64}});
    boot_result out;
    status st;
    REQUIRE(load_linux(request(k), ram, out, st));
    CHECK(high[0] == 0x90);
    REQUIRE(out.e820_count == 4);
    CHECK(out.e820[3].addr == 1ull << 32);
    CHECK(out.e820[3].size == mib);
}

TEST_CASE("named allocated sections are found")
{
    auto k = make_elf(kernel_pa, {{1, kernel_pa, kernel_pa, std::vector<uint8_t>(16), 16}}, 0x1234000);
    elf64_image img;
    status st;
    REQUIRE(parse_elf64(k.data(), k.size(), "guest", true, img, st));
    virt_range r[2];
    REQUIRE(sections_named(img, ".user", r, 2) == 1);
    CHECK(r[0].vaddr == 0x1234000);
    CHECK(r[0].size == 0x100);
    CHECK(sections_named(img, ".use", r, 2) == 0);
    CHECK(sections_named(img, ".users", r, 2) == 0);
}

TEST_CASE("write_boot_params gives the zero page load_linux writes, for a caller that copies it itself")
{
    auto k = linux_like();
    machine m(64 * mib);
    boot_request req = request(k);
    boot_result loaded;
    status st;
    REQUIRE(load_linux(req, m.ram, loaded, st));

    guest_ram sizes_only{};  // as the Xen wedge passes it: no host mapping of guest RAM
    sizes_only.ranges[0] = {0, 64 * mib, nullptr};
    sizes_only.count = 1;
    boot_result r{};
    std::vector<uint8_t> bp(boot_params_bytes, 0xcc);
    REQUIRE(build_e820(sizes_only, req, r, st));
    REQUIRE(write_boot_params(req, r, bp.data(), st));
    CHECK(st.ok());
    CHECK(std::memcmp(bp.data(), m.mem.data() + 0x7000, boot_params_bytes) == 0);

    std::string long_line(2048, 'x');  // cmdline_max 2048 includes the NUL
    boot_request too_long = request(k, long_line.c_str());
    REQUIRE_FALSE(write_boot_params(too_long, r, bp.data(), st));
    CHECK(st.code == error::cmdline_too_long);
    CHECK(std::string(st.text) == "command line is 2048 bytes, the limit is 2047");
}
