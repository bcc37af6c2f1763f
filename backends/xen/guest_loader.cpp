// The guest loader (guest_loader.h).
#include "guest_loader.h"

#include "afterburn/annotation_reader.h"
#include "console.h"
#include "pv_memory.h"

namespace xw {

namespace {

namespace ann = afterburn::annotation;

// ELF64 (System V gABI); only the fields we use.
struct Elf64Ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Elf64Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
static_assert(sizeof(Elf64Ehdr) == 64 && sizeof(Elf64Phdr) == 56);
constexpr uint32_t kPtLoad = 1, kPtNote = 4;

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

} // namespace

bool load_guest(const BootModule &m, const char *cmdline, LoadedGuest &g) {
    g = LoadedGuest{};
    if (!m.data || m.len < sizeof(Elf64Ehdr)) {
        print("xen-wedge: guest: no boot module to load\n");
        return false;
    }
    auto *eh = reinterpret_cast<const Elf64Ehdr *>(m.data);
    if (eh->ident[0] != 0x7f || eh->ident[1] != 'E' || eh->ident[2] != 'L' || eh->ident[3] != 'F' ||
        eh->ident[4] != 2 || eh->ident[5] != 1 || eh->machine != 62 || eh->type != 2 ||
        eh->phentsize != sizeof(Elf64Phdr) || eh->phoff > m.len ||
        eh->phnum > (m.len - eh->phoff) / sizeof(Elf64Phdr)) {
        print("xen-wedge: guest: the boot module is not an ELF64 x86-64 executable\n");
        return false;
    }
    auto *ph = reinterpret_cast<const Elf64Phdr *>(m.data + eh->phoff);
    g.image_lo = g.virt_lo = ~0ull;
    bool have_offset = false;
    for (unsigned i = 0; i < eh->phnum; ++i) {
        const Elf64Phdr &p = ph[i];
        if (p.type != kPtLoad && p.type != kPtNote) continue;
        if (p.offset > m.len || p.filesz > m.len - p.offset || p.filesz > p.memsz) {
            print("xen-wedge: guest: the boot module is truncated or corrupt: program header %u (type %u, "
                  "file offset 0x%lx, 0x%lx bytes) lies outside the module (%lu bytes)\n",
                  i, p.type, p.offset, p.filesz, m.len);
            return false;
        }
        if (p.type == kPtNote) {
            if (g.note_count == LoadedGuest::kMaxNotes) {
                print("xen-wedge: guest: more than %u PT_NOTE segments\n", LoadedGuest::kMaxNotes);
                return false;
            }
            g.notes[g.note_count++] = {p.vaddr, m.data + p.offset, p.filesz};
            continue;
        }
        if (p.paddr > guest_ram_bytes() || p.memsz > guest_ram_bytes() - p.paddr) {
            print("xen-wedge: guest: PT_LOAD %u [0x%lx, +0x%lx) does not fit guest RAM (0x%lx): the guest needs "
                  "more memory than the domain has\n", i, p.paddr, p.memsz, guest_ram_bytes());
            return false;
        }
        if (have_offset && p.vaddr - p.paddr != g.virt_minus_phys) {
            print("xen-wedge: guest: PT_LOADs with different virtual-physical offsets\n");
            return false;
        }
        if (g.load_count == LoadedGuest::kMaxLoads) {
            print("xen-wedge: guest: more than %u PT_LOAD segments\n", LoadedGuest::kMaxLoads);
            return false;
        }
        have_offset = true;
        g.virt_minus_phys = p.vaddr - p.paddr;
        if (!guest_phys_write(p.paddr, m.data + p.offset, p.filesz) ||
            !guest_phys_zero(p.paddr + p.filesz, p.memsz - p.filesz))
            return false;
        // Read back and compare: proves the copy went to the frames guest_phys maps.
        uint32_t want = 0, got = 0;
        for (uint64_t j = 0; j < p.filesz; ++j) want += m.data[p.offset + j];
        uint8_t buf[256];
        for (uint64_t j = 0; j < p.filesz; j += sizeof buf) {
            uint64_t n = p.filesz - j < sizeof buf ? p.filesz - j : sizeof buf;
            if (!guest_phys_read(p.paddr + j, buf, n)) return false;
            for (uint64_t k = 0; k < n; ++k) got += buf[k];
        }
        print("xen-wedge: guest: PT_LOAD vaddr 0x%lx paddr 0x%lx filesz 0x%lx memsz 0x%lx flags %u, "
              "byte sum 0x%08x%s\n",
              p.vaddr, p.paddr, p.filesz, p.memsz, p.flags, got, got == want ? "" : " MISMATCH");
        if (got != want) return false;
        g.loads[g.load_count++] = {p.vaddr, p.paddr, p.filesz, p.memsz, p.offset, p.flags};
        if (p.paddr < g.image_lo) g.image_lo = p.paddr;
        if (p.paddr + p.memsz > g.image_hi) g.image_hi = p.paddr + p.memsz;
        if (p.vaddr < g.virt_lo) g.virt_lo = p.vaddr;
        if (p.vaddr + p.memsz > g.virt_hi) g.virt_hi = p.vaddr + p.memsz;
    }
    if (!g.load_count) {
        print("xen-wedge: guest: no PT_LOAD segments\n");
        return false;
    }
    g.module = m;
    g.entry_phys = eh->entry;
    if (eh->entry >= g.image_lo && eh->entry < g.image_hi) {
        g.entry_virt = eh->entry + g.virt_minus_phys;
    } else if (eh->entry >= g.virt_lo && eh->entry < g.virt_hi) {
        g.entry_virt = eh->entry;  // an image whose e_entry is already virtual
        g.entry_phys = eh->entry - g.virt_minus_phys;
    } else {
        print("xen-wedge: guest: e_entry 0x%lx is in no PT_LOAD\n", eh->entry);
        return false;
    }
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
