// Walking the boot module.
#include "bootmod.h"

#include "console.h"
#include "wedge/boot/elf64.h"

namespace xw {

namespace {

constexpr unsigned bytes_shown = 16; // bytes shown in hex and as text

// The ELF header through the shared reader (wedge/boot/elf64.h), which takes any
// little-endian ELF64: the module need not be a loadable guest to be described.
void describe_elf(const module_bytes &m) {
    afterburn::boot::elf64_header h;
    afterburn::boot::status st;
    if (!afterburn::boot::read_elf64_header(m.data, m.len, "module", h, st)) {
        print("xen-wedge: %s\n", st.text);
        return;
    }
    print("xen-wedge: module: ELF64 type %u machine %u entry 0x%016lx phoff %lu phnum %u\n", h.type, h.machine,
          h.entry, h.phoff, h.phnum);
}

} // namespace

void describe_boot_module(const module_bytes &m) {
    if (!m.data) {
        print("xen-wedge: module: none\n");
        return;
    }
    print("xen-wedge: module: %lu bytes at %p\n", m.len, static_cast<const void *>(m.data));

    unsigned n = m.len < bytes_shown ? static_cast<unsigned>(m.len) : bytes_shown;
    char hex[bytes_shown * 3 + 1], text[bytes_shown + 1];
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
