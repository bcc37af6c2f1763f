// The guest loader (guest_loader.h).
#include "guest_loader.h"

#include "afterburn/annotation_reader.h"
#include "module_pack.h"
#include "wedge/boot/linux_boot.h"
#include "console.h"
#include "pv_memory.h"

namespace xw {

namespace {

namespace ann = afterburn::annotation;
namespace boot = afterburn::boot;

// Where the loader puts its own data in guest RAM: below 1 MiB, clear of the guest image
// (which Linux and the sample guest link at 16 MiB).
constexpr uint64_t boot_params_gpa = 0x7000;
constexpr uint64_t cmdline_gpa = 0x8000;
constexpr uint32_t cmdline_max = 4096;

// boot_params through the shared loader (wedge/boot/linux_boot): the PC memory map of guest
// RAM and the setup header. The wedge copies the zero page and the command line into guest
// RAM itself: it reaches guest RAM through guest_phys_*, not through one host mapping.
bool build_boot_params(const char *cmdline, const boot::elf64_image &img, const module_bytes &initrd, loaded_guest &g) {
    boot::guest_ram ram{};
    ram.ranges[0] = {0, guest_ram_bytes(), nullptr};  // build_e820 reads only gpa and size
    ram.count = 1;
    boot::boot_request req{};
    req.cmdline = cmdline;
    req.boot_params_gpa = boot_params_gpa;
    req.cmdline_gpa = cmdline_gpa;
    req.cmdline_max = cmdline_max;
    static boot::boot_result r;
    r = boot::boot_result{};
    static uint8_t bp[boot::boot_params_bytes];
    req.initrd = initrd.data;
    req.initrd_size = initrd.len;
    req.initrd_name = "initrd";
    boot::status st;
    if (!boot::build_e820(ram, req, r, st) ||
        (initrd.len && !boot::place_initrd(req, img, guest_ram_bytes(), r, st)) ||
        !boot::write_boot_params(req, r, bp, st)) {
        print("xen-wedge: guest: boot_params: %s\n", st.text);
        return false;
    }
    if (initrd.len) {
        if (!guest_phys_write(r.initrd_gpa, initrd.data, initrd.len)) {
            print("xen-wedge: guest: initrd: cannot write [0x%lx, +0x%lx) to guest RAM\n", r.initrd_gpa, initrd.len);
            return false;
        }
        uint32_t sum = 0;
        for (uint64_t i = 0; i < initrd.len; ++i) sum += initrd.data[i];
        print("xen-wedge: guest: initrd: %lu bytes at 0x%lx, byte sum 0x%08x\n", initrd.len, r.initrd_gpa, sum);
    }
    size_t len = 0;
    while (cmdline[len]) ++len;  // write_boot_params checked it against cmdline_max
    if (!guest_phys_write(boot_params_gpa, bp, sizeof bp) || !guest_phys_zero(cmdline_gpa, cmdline_max) ||
        !guest_phys_write(cmdline_gpa, cmdline, len))
        return false;
    g.boot_params = boot_params_gpa;
    print("xen-wedge: guest: boot_params at 0x%lx: %u e820 entries", boot_params_gpa, r.e820_count);
    for (unsigned i = 0; i < r.e820_count; ++i)
        print(" [0x%lx-0x%lx) %s", r.e820[i].addr, r.e820[i].addr + r.e820[i].size,
              r.e820[i].type == boot::e820_ram ? "RAM" : "reserved");
    print(", command line \"%s\" at 0x%lx\n", cmdline, cmdline_gpa);
    return true;
}

// The guest ELF through the shared reader (wedge/boot/elf64), which validates the headers and
// every PT_LOAD and PT_NOTE against the module. The 64-bit boot protocol enters e_entry as a
// physical address; an image whose e_entry is already virtual is accepted too.
bool parse_guest(const module_bytes &m, boot::elf64_image &img, bool &entry_is_physical) {
    boot::status st;
    entry_is_physical = true;
    if (boot::parse_elf64(m.data, m.len, "boot module", true, img, st)) return true;
    entry_is_physical = false;
    if (st.code == boot::error::bad_entry && boot::parse_elf64(m.data, m.len, "boot module", false, img, st))
        return true;
    print("xen-wedge: guest: %s\n", st.text);
    return false;
}

// Copies one PT_LOAD to guest-physical RAM (bss zeroed) and proves it by reading it back.
bool copy_segment(const module_bytes &m, const boot::load_segment &s) {
    if (!guest_phys_write(s.paddr, m.data + s.offset, s.filesz) ||
        !guest_phys_zero(s.paddr + s.filesz, s.memsz - s.filesz))
        return false;
    uint32_t want = 0, got = 0;
    for (uint64_t j = 0; j < s.filesz; ++j) want += m.data[s.offset + j];
    uint8_t buf[256];
    for (uint64_t j = 0; j < s.filesz; j += sizeof buf) {
        uint64_t n = s.filesz - j < sizeof buf ? s.filesz - j : sizeof buf;
        if (!guest_phys_read(s.paddr + j, buf, n)) return false;
        for (uint64_t k = 0; k < n; ++k) got += buf[k];
    }
    print("xen-wedge: guest: PT_LOAD vaddr 0x%lx paddr 0x%lx filesz 0x%lx memsz 0x%lx flags %u, "
          "byte sum 0x%08x%s\n",
          s.vaddr, s.paddr, s.filesz, s.memsz, s.flags, got, got == want ? "" : " MISMATCH");
    return got == want;
}

} // namespace

bool unpack_boot_module(const module_bytes &m, module_bytes &kernel, module_bytes &initrd) {
    namespace xm = afterburn::xen_module;
    kernel = m;
    initrd = {nullptr, 0};
    if (!m.data || m.len < sizeof(xm::header) || __builtin_memcmp(m.data, xm::magic, sizeof xm::magic)) return true;
    xm::header h;
    __builtin_memcpy(&h, m.data, sizeof h);
    auto inside = [&](uint64_t off, uint64_t len) { return off <= m.len && len <= m.len - off; };
    if (!inside(h.kernel_offset, h.kernel_size) || !inside(h.initrd_offset, h.initrd_size)) {
        print("xen-wedge: guest: boot module: the pack says kernel [0x%lx, +0x%lx) and initrd [0x%lx, +0x%lx), but "
              "the module has only 0x%lx bytes (truncated?)\n",
              h.kernel_offset, h.kernel_size, h.initrd_offset, h.initrd_size, m.len);
        return false;
    }
    kernel = {m.data + h.kernel_offset, h.kernel_size};
    initrd = {m.data + h.initrd_offset, h.initrd_size};
    print("xen-wedge: guest: boot module: kernel %lu bytes, initrd %lu bytes\n", h.kernel_size, h.initrd_size);
    return true;
}

bool load_guest(const module_bytes &m, const module_bytes &initrd, const char *cmdline, loaded_guest &g) {
    g = loaded_guest{};
    if (!m.data || !m.len) {
        print("xen-wedge: guest: no boot module to load\n");
        return false;
    }
    static boot::elf64_image img;
    bool entry_is_physical = true;
    if (!parse_guest(m, img, entry_is_physical)) return false;
    g.image_lo = g.virt_lo = ~0ull;
    for (unsigned i = 0; i < img.load_count; ++i) {
        const boot::load_segment &p = img.loads[i];
        if (p.paddr > guest_ram_bytes() || p.memsz > guest_ram_bytes() - p.paddr) {
            print("xen-wedge: guest: PT_LOAD %u [0x%lx, +0x%lx) does not fit guest RAM (0x%lx): the guest needs "
                  "more memory than the domain has\n", i, p.paddr, p.memsz, guest_ram_bytes());
            return false;
        }
        if (i && p.vaddr - p.paddr != g.virt_minus_phys) {
            print("xen-wedge: guest: PT_LOADs with different virtual-physical offsets\n");
            return false;
        }
        g.virt_minus_phys = p.vaddr - p.paddr;
        if (!copy_segment(m, p)) return false;
        g.loads[g.load_count++] = {p.vaddr, p.paddr, p.filesz, p.memsz, p.offset, p.flags};
        if (p.paddr < g.image_lo) g.image_lo = p.paddr;
        if (p.paddr + p.memsz > g.image_hi) g.image_hi = p.paddr + p.memsz;
        if (p.vaddr < g.virt_lo) g.virt_lo = p.vaddr;
        if (p.vaddr + p.memsz > g.virt_hi) g.virt_hi = p.vaddr + p.memsz;
    }
    for (unsigned n = 0; n < img.note_count; ++n)
        g.notes[g.note_count++] = {img.notes[n].vaddr, m.data + img.notes[n].offset, img.notes[n].size};
    g.module = m;
    g.elf = &img;
    g.entry_phys = entry_is_physical ? img.entry : img.entry - g.virt_minus_phys;
    g.entry_virt = entry_is_physical ? img.entry + g.virt_minus_phys : img.entry;
    print("xen-wedge: guest: entry physical 0x%lx = virtual 0x%lx\n", g.entry_phys, g.entry_virt);
    if (boot::linux_head_code(img, g.head_lo, g.head_hi)) {
        print("xen-wedge: guest: Linux head code [0x%lx, 0x%lx) runs at its physical alias: entering at 0x%lx\n",
              g.head_lo, g.head_hi, g.entry_phys);
    }

    for (unsigned n = 0; n < g.note_count; ++n) {
        const guest_notes &gn = g.notes[n];
        auto res = ann::walk_tables(gn.bytes, gn.bytes + gn.size, [](const ann::table_view &) {});
        if (res.error != ann::table_error::ok) {
            print("xen-wedge: guest: PT_NOTE at 0x%lx: malformed notes at offset 0x%lx: %s\n", gn.vaddr,
                  res.error_offset, ann::table_error_text(res.error));
            return false;
        }
        g.tables += res.tables;
        g.records += res.records;
    }
    print("xen-wedge: guest: %u Afterburn tables, %u records in %u PT_NOTE segments\n", g.tables,
          g.records, g.note_count);
    return build_boot_params(cmdline, img, initrd, g);
}

} // namespace xw
