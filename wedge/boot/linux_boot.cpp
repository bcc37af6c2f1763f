#include "wedge/boot/linux_boot.h"

namespace afterburn::boot {

namespace {

// struct boot_params offsets (zero-page.rst) and setup header fields (boot.rst).
constexpr uint64_t bp_ext_ramdisk_image = 0x0c0, bp_ext_ramdisk_size = 0x0c4, bp_ext_cmd_line_ptr = 0x0c8;
constexpr uint64_t bp_e820_entries = 0x1e8, bp_e820_table = 0x2d0;
constexpr uint64_t hdr_setup_sects = 0x1f1, hdr_boot_flag = 0x1fe, hdr_header = 0x202, hdr_version = 0x206;
constexpr uint64_t hdr_type_of_loader = 0x210, hdr_loadflags = 0x211;
constexpr uint64_t hdr_ramdisk_image = 0x218, hdr_ramdisk_size = 0x21c;
constexpr uint64_t hdr_cmd_line_ptr = 0x228, hdr_cmdline_size = 0x238;
constexpr unsigned bp_e820_max = 128;
constexpr uint64_t mib = 1ull << 20, page = 4096;
constexpr uint64_t legacy_start = 0xa0000, legacy_end = 0x100000;
constexpr uint64_t initrd_limit = 1ull << 32;  // ramdisk_image is 32-bit (ext_ fields unused)

template <typename T> void put(uint8_t *p, uint64_t off, T v) { __builtin_memcpy(p + off, &v, sizeof v); }

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
uint64_t length(const char *s)
{
    uint64_t n = 0;
    while (s[n]) ++n;
    return n;
}
bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) { return a < b + blen && b < a + alen; }

bool add_e820(boot_result &out, uint64_t addr, uint64_t size, uint32_t type, status &st)
{
    if (!size) return true;
    if (out.e820_count == boot_result::max_e820) {
        message(st, error::too_many).s("more than ").u(boot_result::max_e820).s(" e820 entries");
        return false;
    }
    out.e820[out.e820_count++] = {addr, size, type};
    return true;
}

// Marks [addr, addr + size) reserved, splitting the RAM entries it covers.
bool reserve(boot_result &out, uint64_t addr, uint64_t size, status &st)
{
    e820_entry old[boot_result::max_e820];
    unsigned n = out.e820_count;
    for (unsigned i = 0; i < n; ++i) old[i] = out.e820[i];
    out.e820_count = 0;
    for (unsigned i = 0; i < n; ++i) {
        const e820_entry &e = old[i];
        if (e.type != e820_ram || !overlaps(e.addr, e.size, addr, size)) {
            if (!add_e820(out, e.addr, e.size, e.type, st)) return false;
            continue;
        }
        if (e.addr < addr && !add_e820(out, e.addr, addr - e.addr, e820_ram, st)) return false;
        if (e.addr + e.size > addr + size && !add_e820(out, addr + size, e.addr + e.size - addr - size, e820_ram, st))
            return false;
    }
    if (!add_e820(out, addr, size, e820_reserved, st)) return false;
    for (unsigned i = 1; i < out.e820_count; ++i)  // insertion sort by address
        for (unsigned j = i; j > 0 && out.e820[j].addr < out.e820[j - 1].addr; --j) {
            e820_entry t = out.e820[j];
            out.e820[j] = out.e820[j - 1];
            out.e820[j - 1] = t;
        }
    return true;
}

// The highest page-aligned place for `size` bytes in e820 RAM, at or above `floor`, below
// `limit`, clear of the request's reserved ranges (already e820-reserved).
uint64_t place_high(const boot_result &out, uint64_t size, uint64_t floor, uint64_t limit)
{
    uint64_t best = 0;
    for (unsigned i = 0; i < out.e820_count; ++i) {
        const e820_entry &e = out.e820[i];
        if (e.type != e820_ram) continue;
        uint64_t end = e.addr + e.size < limit ? e.addr + e.size : limit;
        uint64_t lo = e.addr > floor ? e.addr : floor;
        if (end < size || end - size < lo) continue;
        uint64_t a = (end - size) & ~(page - 1);
        if (a >= lo && a > best) best = a;
    }
    return best;
}

} // namespace

uint8_t *guest_ram::at(uint64_t gpa, uint64_t len) const
{
    for (unsigned i = 0; i < count; ++i) {
        const ram_range &r = ranges[i];
        if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa)) return r.host + (gpa - r.gpa);
    }
    return nullptr;
}

uint64_t guest_ram::total() const
{
    uint64_t t = 0;
    for (unsigned i = 0; i < count; ++i) t += ranges[i].size;
    return t;
}

uint64_t min_ram_bytes(const elf64_image &kernel, uint64_t initrd_size)
{
    return round_up(round_up(kernel.phys_end(), page) + round_up(initrd_size, page), mib);
}

bool build_e820(const guest_ram &ram, const boot_request &req, boot_result &out, status &st)
{
    out.e820_count = 0;
    for (unsigned i = 0; i < ram.count; ++i) {
        const ram_range &r = ram.ranges[i];
        if (r.gpa == 0) {
            if (!add_e820(out, 0, r.size < legacy_start ? r.size : legacy_start, e820_ram, st)) return false;
            if (r.size > legacy_start &&
                !add_e820(out, legacy_start, (r.size < legacy_end ? r.size : legacy_end) - legacy_start, e820_reserved, st))
                return false;
            if (r.size > legacy_end && !add_e820(out, legacy_end, r.size - legacy_end, e820_ram, st)) return false;
        } else if (!add_e820(out, r.gpa, r.size, e820_ram, st)) {
            return false;
        }
    }
    for (unsigned i = 0; i < req.reserved_count; ++i)
        if (!reserve(out, req.reserved[i].gpa, req.reserved[i].size, st)) return false;
    return true;
}

bool place_initrd(const boot_request &req, const elf64_image &k, uint64_t ram_total, boot_result &out, status &st)
{
    const char *initrd_name = req.initrd_name ? req.initrd_name : "initrd";
    uint64_t floor = round_up(k.phys_end(), page);
    uint64_t a = place_high(out, req.initrd_size, floor, initrd_limit);
    if (!a) {
        message(st, error::no_room_for_initrd).s(initrd_name).s(": ").u(req.initrd_size).s(" bytes do not fit in guest RAM (")
            .u(ram_total / mib).s(" MiB) above the kernel (which ends at ").x(k.phys_end())
            .s("); it needs at least ").u(min_ram_bytes(k, req.initrd_size) / mib + (req.reserved_count ? 2 : 0))
            .s(" MiB");
        return false;
    }
    out.initrd_gpa = a;
    out.initrd_size = req.initrd_size;
    return true;
}

bool load_linux(const boot_request &req, const guest_ram &ram, boot_result &out, status &st)
{
    out = boot_result{};
    const char *name = req.kernel_name ? req.kernel_name : "kernel";
    if (!parse_elf64(req.kernel, req.kernel_size, name, true, out.kernel, st)) return false;
    const elf64_image &k = out.kernel;
    if (req.reserved_count > boot_request::max_reserved) {
        message(st, error::too_many).s("more than ").u(boot_request::max_reserved).s(" reserved ranges");
        return false;
    }

    // 1. Segments: above the caller's boot data, clear of reserved ranges, inside RAM.
    for (unsigned i = 0; i < k.load_count; ++i) {
        const load_segment &s = k.loads[i];
        if (s.paddr < req.kernel_min_gpa) {
            message(st, error::overlaps).s(name).s(": segment [").x(s.paddr).s(", ").x(s.paddr + s.memsz)
                .s(") overlaps the launcher's boot data below ").x(req.kernel_min_gpa).s(" (load kernels at 1 MiB or above)");
            return false;
        }
        for (unsigned r = 0; r < req.reserved_count; ++r)
            if (overlaps(s.paddr, s.memsz, req.reserved[r].gpa, req.reserved[r].size)) {
                message(st, error::overlaps).s(name).s(": segment [").x(s.paddr).s(", ").x(s.paddr + s.memsz)
                    .s(") overlaps the reserved range [").x(req.reserved[r].gpa).s(", ")
                    .x(req.reserved[r].gpa + req.reserved[r].size).s(") (more memory moves it)");
                return false;
            }
        uint8_t *dst = ram.at(s.paddr, s.memsz);
        if (!dst) {
            message m(st, error::outside_ram);
            m.s(name).s(": segment [").x(s.paddr).s(", ").x(s.paddr + s.memsz).s(") is not in RAM (").u(ram.total() / mib)
                .s(" MiB");
            if (min_ram_bytes(k, 0) > ram.total())
                m.s("); it needs at least ").u(min_ram_bytes(k, 0) / mib).s(" MiB");
            else
                m.s(" in ").u(ram.count).s(" ranges): it lies in a gap between them (e.g. the 3..4 GiB MMIO hole)");
            return false;
        }
        __builtin_memcpy(dst, k.bytes + s.offset, s.filesz);
        __builtin_memset(dst + s.filesz, 0, s.memsz - s.filesz);
    }
    out.entry_phys = k.entry;
    out.entry_virt = k.entry_virt();

    // 2. The memory map, then the initrd at the top of RAM below 4 GiB, above the kernel.
    if (!build_e820(ram, req, out, st)) return false;
    if (req.initrd && req.initrd_size) {
        if (!place_initrd(req, k, ram.total(), out, st)) return false;
        __builtin_memcpy(ram.at(out.initrd_gpa, req.initrd_size), req.initrd, req.initrd_size);
        // It stays RAM in the map: the kernel reserves it from ramdisk_image/size and frees it.
    }

    // 3. The command line and boot_params.
    uint8_t *bp = ram.at(req.boot_params_gpa, boot_params_bytes);
    uint8_t *cmd = ram.at(req.cmdline_gpa, req.cmdline_max);
    if (!bp || !cmd) {
        message(st, error::outside_ram).s("boot_params at ").x(req.boot_params_gpa).s(" or the command line at ")
            .x(req.cmdline_gpa).s(" is not in guest RAM");
        return false;
    }
    if (!write_boot_params(req, out, bp, st)) return false;
    const char *cl = req.cmdline ? req.cmdline : "";
    __builtin_memset(cmd, 0, req.cmdline_max);
    __builtin_memcpy(cmd, cl, length(cl));
    out.boot_params = req.boot_params_gpa;
    st = status{};
    return true;
}

bool write_boot_params(const boot_request &req, const boot_result &out, uint8_t *bp, status &st)
{
    const char *cl = req.cmdline ? req.cmdline : "";
    uint64_t cl_len = length(cl);
    if (cl_len + 1 > req.cmdline_max) {
        message(st, error::cmdline_too_long).s("command line is ").u(cl_len).s(" bytes, the limit is ").u(req.cmdline_max - 1);
        return false;
    }
    if (out.e820_count > bp_e820_max) {
        message(st, error::too_many).s("more than ").u(bp_e820_max).s(" e820 entries");
        return false;
    }
    __builtin_memset(bp, 0, boot_params_bytes);
    put<uint8_t>(bp, hdr_setup_sects, 0);
    put<uint16_t>(bp, hdr_boot_flag, 0xaa55);
    put<uint32_t>(bp, hdr_header, 0x53726448);  // "HdrS"
    put<uint16_t>(bp, hdr_version, 0x020f);
    put<uint8_t>(bp, hdr_type_of_loader, 0xff);  // undefined loader
    put<uint8_t>(bp, hdr_loadflags, 0x01);       // LOADED_HIGH
    put<uint32_t>(bp, hdr_cmd_line_ptr, static_cast<uint32_t>(req.cmdline_gpa));
    put<uint32_t>(bp, bp_ext_cmd_line_ptr, static_cast<uint32_t>(req.cmdline_gpa >> 32));
    put<uint32_t>(bp, hdr_cmdline_size, req.cmdline_max - 1);
    put<uint32_t>(bp, hdr_ramdisk_image, static_cast<uint32_t>(out.initrd_gpa));
    put<uint32_t>(bp, hdr_ramdisk_size, static_cast<uint32_t>(out.initrd_size));
    put<uint32_t>(bp, bp_ext_ramdisk_image, static_cast<uint32_t>(out.initrd_gpa >> 32));
    put<uint32_t>(bp, bp_ext_ramdisk_size, static_cast<uint32_t>(out.initrd_size >> 32));
    put<uint8_t>(bp, bp_e820_entries, static_cast<uint8_t>(out.e820_count));
    for (unsigned i = 0; i < out.e820_count; ++i) {
        uint8_t *e = bp + bp_e820_table + i * 20;  // struct boot_e820_entry is packed, 20 bytes
        put<uint64_t>(e, 0, out.e820[i].addr);
        put<uint64_t>(e, 8, out.e820[i].size);
        put<uint32_t>(e, 16, out.e820[i].type);
    }
    st = status{};
    return true;
}

bool linux_head_code(const elf64_image &img, uint64_t &lo, uint64_t &hi)
{
    uint64_t head = 0, env = 0, env_size = 0;
    if (!symbol_value(img, "startup_64", head) || !symbol_value(img, "startup_64_setup_env", env, &env_size) ||
        env < head)
        return false;
    if (img.entry != head && img.entry_virt() != head) return false;
    lo = head;
    hi = env + env_size;
    return true;
}

} // namespace afterburn::boot
