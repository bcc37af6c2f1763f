#include "guest_image.h"

#include "console.h"
#include "guest_ram.h"

namespace lw {

namespace boot = afterburn::boot;

bool load_guest(const uint8_t *bytes, uint64_t size, guest_image &g) {
    boot::status st;
    // The 64-bit boot protocol's e_entry is physical; an image whose entry is virtual is
    // accepted too (as the Xen wedge does).
    bool entry_is_physical = boot::parse_elf64(bytes, size, "boot module", true, g.elf, st);
    if (!entry_is_physical &&
        !(st.code == boot::error::bad_entry && boot::parse_elf64(bytes, size, "boot module", false, g.elf, st))) {
        print("l4-wedge: guest: %s\n", st.text);
        return false;
    }
    g.virt_lo = ~uint64_t(0);
    g.virt_hi = 0;
    for (unsigned i = 0; i < g.elf.load_count; ++i) {
        const boot::load_segment &s = g.elf.loads[i];
        uint8_t *to = guest_phys(s.paddr, s.memsz);
        if (!to) {
            print("l4-wedge: guest: PT_LOAD %u [0x%lx, +0x%lx) does not fit guest RAM (0x%lx bytes): the guest needs "
                  "more memory\n", i, s.paddr, s.memsz, guest_ram_bytes());
            return false;
        }
        if (i && s.vaddr - s.paddr != g.virt_minus_phys) {
            print("l4-wedge: guest: PT_LOADs with different virtual-physical offsets\n");
            return false;
        }
        g.virt_minus_phys = s.vaddr - s.paddr;
        __builtin_memcpy(to, bytes + s.offset, s.filesz);
        __builtin_memset(to + s.filesz, 0, s.memsz - s.filesz);
        if (s.vaddr < g.virt_lo) g.virt_lo = s.vaddr;
        if (s.vaddr + s.memsz > g.virt_hi) g.virt_hi = s.vaddr + s.memsz;
        print("l4-wedge: guest: PT_LOAD vaddr 0x%lx paddr 0x%lx filesz 0x%lx memsz 0x%lx\n", s.vaddr, s.paddr,
              s.filesz, s.memsz);
    }
    g.entry_gpa = entry_is_physical ? g.elf.entry : g.elf.entry - g.virt_minus_phys;
    print("l4-wedge: guest: entry 0x%lx\n", g.elf.entry);
    return true;
}

} // namespace lw
