#include "boot_params.h"

#include <algorithm>
#include <cstring>

#include "boot_layout.h"
#include "exit_codes.h"

namespace afterburn::kvm {

namespace {
// struct boot_params offsets (zero-page.rst) and setup header fields (boot.rst).
constexpr uint64_t BP_EXT_CMD_LINE_PTR = 0x0c8;
constexpr uint64_t BP_E820_ENTRIES = 0x1e8;
constexpr uint64_t HDR_SETUP_SECTS = 0x1f1;
constexpr uint64_t HDR_BOOT_FLAG = 0x1fe;     // 0xaa55
constexpr uint64_t HDR_HEADER = 0x202;        // "HdrS"
constexpr uint64_t HDR_VERSION = 0x206;
constexpr uint64_t HDR_TYPE_OF_LOADER = 0x210;
constexpr uint64_t HDR_LOADFLAGS = 0x211;
constexpr uint64_t HDR_CMD_LINE_PTR = 0x228;
constexpr uint64_t HDR_CMDLINE_SIZE = 0x238;
constexpr uint64_t BP_E820_TABLE = 0x2d0;
constexpr unsigned E820_MAX = 128;
constexpr uint64_t BOOT_PARAMS_SIZE = 4096;

template <typename T> void put(uint8_t* bp, uint64_t off, T v) { std::memcpy(bp + off, &v, sizeof v); }
}  // namespace

std::vector<E820Entry> build_e820(const GuestMemory& mem) {
    std::vector<E820Entry> map;
    for (const RamRange& r : mem.ranges()) {
        if (r.gpa == 0) {
            uint64_t low = r.size < 0xa0000 ? r.size : 0xa0000;
            map.push_back({0, low, 1});
            if (r.size > 0xa0000) map.push_back({0xa0000, 0x60000, 2});
            if (r.size > 0x100000) map.push_back({0x100000, r.size - 0x100000, 1});
        } else {
            map.push_back({r.gpa, r.size, 1});
        }
    }
    return map;
}

void reserve_e820(std::vector<E820Entry>& map, uint64_t addr, uint64_t size) {
    std::vector<E820Entry> out;
    uint64_t end = addr + size;
    for (const E820Entry& e : map) {
        uint64_t e_end = e.addr + e.size;
        if (e.type != 1 || e_end <= addr || e.addr >= end) { out.push_back(e); continue; }
        if (e.addr < addr) out.push_back({e.addr, addr - e.addr, 1});
        if (e_end > end) out.push_back({end, e_end - end, 1});
    }
    out.push_back({addr, size, 2});
    std::sort(out.begin(), out.end(), [](const E820Entry& a, const E820Entry& b) { return a.addr < b.addr; });
    map = out;
}

void write_boot_params(GuestMemory& mem, const std::vector<E820Entry>& e820, const std::string& cmdline) {
    if (cmdline.size() + 1 > layout::kCmdlineMax)
        throw Error(kUsage, "--append: command line is " + std::to_string(cmdline.size()) +
                                " bytes, the limit is " + std::to_string(layout::kCmdlineMax - 1));
    if (e820.size() > E820_MAX) throw Error(kUsage, "too many e820 entries");
    uint8_t* bp = mem.at(layout::kBootParams, BOOT_PARAMS_SIZE);
    uint8_t* cl = mem.at(layout::kCmdline, layout::kCmdlineMax);
    if (!bp || !cl) throw Error(kUsage, "guest memory too small for boot data");
    std::memset(bp, 0, BOOT_PARAMS_SIZE);
    std::memset(cl, 0, layout::kCmdlineMax);
    std::memcpy(cl, cmdline.data(), cmdline.size());

    put<uint8_t>(bp, HDR_SETUP_SECTS, 0);
    put<uint16_t>(bp, HDR_BOOT_FLAG, 0xaa55);
    put<uint32_t>(bp, HDR_HEADER, 0x53726448);  // "HdrS"
    put<uint16_t>(bp, HDR_VERSION, 0x020f);
    put<uint8_t>(bp, HDR_TYPE_OF_LOADER, 0xff);  // undefined loader
    put<uint8_t>(bp, HDR_LOADFLAGS, 0x01);       // LOADED_HIGH
    put<uint32_t>(bp, HDR_CMD_LINE_PTR, static_cast<uint32_t>(layout::kCmdline));
    put<uint32_t>(bp, BP_EXT_CMD_LINE_PTR, static_cast<uint32_t>(layout::kCmdline >> 32));
    put<uint32_t>(bp, HDR_CMDLINE_SIZE, static_cast<uint32_t>(layout::kCmdlineMax - 1));

    put<uint8_t>(bp, BP_E820_ENTRIES, static_cast<uint8_t>(e820.size()));
    for (size_t i = 0; i < e820.size(); i++) {
        uint8_t* e = bp + BP_E820_TABLE + i * 20;   // struct boot_e820_entry is packed, 20 bytes
        put<uint64_t>(e, 0, e820[i].addr);
        put<uint64_t>(e, 8, e820[i].size);
        put<uint32_t>(e, 16, e820[i].type);
    }
}

}  // namespace afterburn::kvm
