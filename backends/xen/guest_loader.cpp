// The guest loader (guest_loader.h).
#include "guest_loader.h"

#include "afterburn/annotation_reader.h"
#include "wedge/boot/elf64.h"
#include "console.h"
#include "pv_memory.h"

namespace xw {

namespace {

namespace ann = afterburn::annotation;
namespace boot = afterburn::boot;

// Linux boot protocol (Documentation/x86/boot.rst, zero-page.rst): offsets in boot_params.
constexpr uint64_t kBpExtCmdLinePtr = 0x0c8;
constexpr uint64_t kBpE820Entries = 0x1e8;
constexpr uint64_t kBpSetupSects = 0x1f1;
constexpr uint64_t kBpBootFlag = 0x1fe;    // 0xaa55
constexpr uint64_t kBpHeader = 0x202;      // "HdrS"
constexpr uint64_t kBpVersion = 0x206;
constexpr uint64_t kBpTypeOfLoader = 0x210;
constexpr uint64_t kBpLoadFlags = 0x211;   // LOADED_HIGH
constexpr uint64_t kBpCmdLinePtr = 0x228;
constexpr uint64_t kBpCmdlineSize = 0x238;
constexpr uint64_t kBpE820Table = 0x2d0;
// Where the loader puts its own data in guest RAM: below 1 MiB, clear of the guest image
// (which Linux and the sample guest link at 16 MiB).
constexpr uint64_t kBootParamsGpa = 0x7000;
constexpr uint64_t kCmdlineGpa = 0x8000;
constexpr uint64_t kCmdlineMax = 4096;

struct E820 {
    uint64_t addr, size;
    uint32_t type;
} __attribute__((packed));
static_assert(sizeof(E820) == 20);

template <class T> void put(uint8_t *page, uint64_t off, T v) {
    for (unsigned i = 0; i < sizeof(T); ++i) page[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

bool build_boot_params(const char *cmdline, LoadedGuest &g) {
    static uint8_t bp[4096];
    for (auto &b : bp) b = 0;
    // e820: conventional memory below the legacy hole, then the rest of RAM from 1 MiB.
    E820 map[2] = {{0, 0x9f000, 1}, {0x100000, guest_ram_bytes() - 0x100000, 1}};
    put<uint8_t>(bp, kBpE820Entries, 2);
    for (unsigned i = 0; i < 2; ++i) {
        auto *src = reinterpret_cast<const uint8_t *>(&map[i]);
        for (unsigned j = 0; j < sizeof(E820); ++j) bp[kBpE820Table + i * sizeof(E820) + j] = src[j];
    }
    put<uint8_t>(bp, kBpSetupSects, 4);
    put<uint16_t>(bp, kBpBootFlag, 0xaa55);
    put<uint32_t>(bp, kBpHeader, 0x53726448);  // "HdrS"
    put<uint16_t>(bp, kBpVersion, 0x020f);
    put<uint8_t>(bp, kBpTypeOfLoader, 0xff);   // undefined loader
    put<uint8_t>(bp, kBpLoadFlags, 0x01);      // LOADED_HIGH
    put<uint32_t>(bp, kBpCmdLinePtr, static_cast<uint32_t>(kCmdlineGpa));
    put<uint32_t>(bp, kBpExtCmdLinePtr, 0);
    put<uint32_t>(bp, kBpCmdlineSize, kCmdlineMax - 1);
    size_t len = 0;
    while (cmdline[len] && len + 1 < kCmdlineMax) ++len;
    if (!guest_phys_write(kBootParamsGpa, bp, sizeof bp) || !guest_phys_zero(kCmdlineGpa, kCmdlineMax) ||
        !guest_phys_write(kCmdlineGpa, cmdline, len))
        return false;
    g.boot_params = kBootParamsGpa;
    print("xen-wedge: guest: boot_params at 0x%lx: 2 e820 entries [0x0-0x9f000) [0x100000-0x%lx), "
          "command line \"%s\" at 0x%lx\n",
          kBootParamsGpa, guest_ram_bytes(), cmdline, kCmdlineGpa);
    return true;
}

// The guest ELF through the shared reader (wedge/boot/elf64), which validates the headers and
// every PT_LOAD and PT_NOTE against the module. The 64-bit boot protocol enters e_entry as a
// physical address; an image whose e_entry is already virtual is accepted too.
bool parse_guest(const BootModule &m, boot::elf64_image &img, bool &entry_is_physical) {
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
bool copy_segment(const BootModule &m, const boot::load_segment &s) {
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

bool load_guest(const BootModule &m, const char *cmdline, LoadedGuest &g) {
    g = LoadedGuest{};
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
    g.entry_phys = entry_is_physical ? img.entry : img.entry - g.virt_minus_phys;
    g.entry_virt = entry_is_physical ? img.entry + g.virt_minus_phys : img.entry;
    print("xen-wedge: guest: entry physical 0x%lx = virtual 0x%lx\n", g.entry_phys, g.entry_virt);

    for (unsigned n = 0; n < g.note_count; ++n) {
        const GuestNotes &gn = g.notes[n];
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
    return build_boot_params(cmdline, g);
}

} // namespace xw
