#include "boot_info.h"

#include "console.h"
#include "l4_abi.h"
#include "sigma0.h"

namespace lw {

namespace {

constexpr uint64_t bootinfo_magic = 0x14b0021d;
constexpr uint64_t rec_module = 1, rec_simple_exec = 2;
// Word indices inside the records.
constexpr unsigned bi_magic = 0, bi_size = 2, bi_first = 3, bi_count = 4;
constexpr unsigned rec_type = 0, rec_next = 2;
constexpr unsigned mod_start = 3, mod_size = 4, mod_cmdline = 5;
constexpr unsigned exec_cmdline = 15;

constexpr uint64_t page = 4096;

bool map_range(uint64_t phys, uint64_t size) {
    for (uint64_t p = phys & ~(page - 1); p < phys + size; p += page)
        if (!sigma0_map_phys(p, 12)) {
            print("l4-wedge: sigma0 will not map the page at 0x%lx\n", p);
            return false;
        }
    return true;
}

const char *cmdline_of(const uint64_t *rec, unsigned field) {
    return rec[field] ? reinterpret_cast<const char *>(rec) + rec[field] : "";
}

} // namespace

bool find_boot_modules(const uint8_t *kip, boot_modules &out) {
    out = boot_modules{{nullptr, 0, ""}, {nullptr, 0, ""}, ""};
    uint64_t bi_phys = l4::kip_word(kip, l4::kip_boot_info);
    if (!bi_phys || !map_range(bi_phys, 64)) {
        print("l4-wedge: no boot info in the KIP (BootInfo 0x%lx): was the system started by kickstart?\n", bi_phys);
        return false;
    }
    auto *bi = reinterpret_cast<const uint64_t *>(bi_phys);
    if (bi[bi_magic] != bootinfo_magic || bi[bi_size] > page || !map_range(bi_phys, bi[bi_size])) {
        print("l4-wedge: boot info at 0x%lx: bad magic 0x%lx or size 0x%lx\n", bi_phys, bi[bi_magic], bi[bi_size]);
        return false;
    }
    uint64_t offset = bi[bi_first];
    unsigned execs = 0;
    for (uint64_t i = 0; i < bi[bi_count]; ++i) {
        if (offset >= bi[bi_size]) break;
        auto *rec = reinterpret_cast<const uint64_t *>(bi_phys + offset);
        if (rec[rec_type] == rec_simple_exec && ++execs == 2) out.wedge_cmdline = cmdline_of(rec, exec_cmdline);
        if (rec[rec_type] == rec_module) {
            boot_module m{reinterpret_cast<const uint8_t *>(rec[mod_start]), rec[mod_size], cmdline_of(rec, mod_cmdline)};
            if (!out.guest.size) out.guest = m;
            else if (!out.initrd.size) out.initrd = m;
        }
        if (!rec[rec_next]) break;
        offset += rec[rec_next];
    }
    if (!out.guest.size) {
        print("l4-wedge: no guest: the boot info has no module after the root task\n");
        return false;
    }
    print("l4-wedge: guest module \"%s\": %lu bytes at 0x%lx\n", out.guest.cmdline, out.guest.size,
          reinterpret_cast<uint64_t>(out.guest.data));
    return map_range(reinterpret_cast<uint64_t>(out.guest.data), out.guest.size);
}

} // namespace lw
