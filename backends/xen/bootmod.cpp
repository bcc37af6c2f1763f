// Walking the boot module.
#include "bootmod.h"

#include "console.h"

namespace xw {

namespace {

constexpr unsigned kShow = 16; // bytes shown in hex and as text

uint16_t le16(const unsigned char *p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

void describe_elf(const BootModule &m) {
    // ELF64 header offsets (System V gABI): e_type 16, e_machine 18, e_entry 24, e_phoff 32,
    // e_phnum 56. EI_CLASS 2 = ELFCLASS64, EI_DATA 1 = little endian.
    const unsigned char *h = m.data;
    if (m.len < 64 || h[4] != 2 || h[5] != 1) {
        print("xen-wedge: module: ELF magic but not a little-endian ELF64 header\n");
        return;
    }
    print("xen-wedge: module: ELF64 type %u machine %u entry 0x%016lx phoff %lu phnum %u\n",
          le16(h + 16), le16(h + 18), le64(h + 24), le64(h + 32), le16(h + 56));
}

} // namespace

void describe_boot_module(const BootModule &m) {
    if (!m.data) {
        print("xen-wedge: module: none\n");
        return;
    }
    print("xen-wedge: module: %lu bytes at %p\n", m.len, static_cast<const void *>(m.data));

    unsigned n = m.len < kShow ? static_cast<unsigned>(m.len) : kShow;
    char hex[kShow * 3 + 1], text[kShow + 1];
    for (unsigned i = 0; i < n; ++i) {
        unsigned char c = m.data[i];
        hex[i * 3] = "0123456789abcdef"[c >> 4];
        hex[i * 3 + 1] = "0123456789abcdef"[c & 15];
        hex[i * 3 + 2] = i + 1 < n ? ' ' : '\0';
        text[i] = c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.';
    }
    hex[n ? n * 3 - 1 : 0] = '\0';
    text[n] = '\0';
    print("xen-wedge: module: first %u bytes: %s |%s|\n", n, hex, text);

    // A cheap whole-module checksum proves every byte is readable and lets a test compare
    // against the file on the host (sum of bytes mod 2^32).
    uint32_t sum = 0;
    for (unsigned long i = 0; i < m.len; ++i) sum += m.data[i];
    print("xen-wedge: module: byte sum 0x%08x\n", sum);

    if (m.len >= 4 && m.data[0] == 0x7f && m.data[1] == 'E' && m.data[2] == 'L' && m.data[3] == 'F')
        describe_elf(m);
}

} // namespace xw
