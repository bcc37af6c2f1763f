#include "guest_relocate.h"

#include "console.h"
#include "guest_ram.h"
#include "guest_sites.h"

namespace lw {

namespace {

template <typename T> T field(const uint8_t *p, uint64_t off) {
    T v;
    __builtin_memcpy(&v, p + off, sizeof v);
    return v;
}

constexpr uint32_t sht_rela = 4, sht_note = 7, sht_nobits = 8;
constexpr uint64_t shf_alloc = 2;
constexpr uint32_t r_64 = 1, r_pc32 = 2, r_plt32 = 4, r_32 = 10, r_32s = 11, r_pc64 = 24;

struct counts {
    uint64_t abs64 = 0, abs32s = 0, relative = 0, outside = 0;
};

// One relocation at link address `p`. A field whose value names the image (inclusive of its
// end: `_end` and friends) moves with it; a value outside it (a physical address the link
// computed, e.g. `sym - KERNEL_MAP`) stays.
bool apply(const guest_image &g, uint64_t p, uint32_t type, counts &n) {
    auto inside = [&g](uint64_t v) { return v >= g.virt_lo && v <= g.virt_hi; };
    uint64_t d = g.virt_minus_phys;
    uint32_t len = type == r_64 || type == r_pc64 ? 8 : 4;
    // Inside a rewritten site the original instruction is moved, in the site's copy.
    bool straddles;
    uint8_t *at = site_original_bytes(p, len, straddles);
    if (straddles) return false;
    if (!at) at = guest_phys(p - d, len);
    if (!at) return false;
    switch (type) {
    case r_64: {
        uint64_t v = field<uint64_t>(at, 0);
        if (!inside(v)) { ++n.outside; return true; }
        v -= d;
        __builtin_memcpy(at, &v, 8);
        ++n.abs64;
        return true;
    }
    case r_32s: {
        uint64_t v = static_cast<uint64_t>(static_cast<int64_t>(field<int32_t>(at, 0)));
        if (!inside(v)) { ++n.outside; return true; }
        v -= d;
        if (v >= 0x80000000ull) return false;  // must stay a sign-extended 32-bit value
        uint32_t w = static_cast<uint32_t>(v);
        __builtin_memcpy(at, &w, 4);
        ++n.abs32s;
        return true;
    }
    case r_32:  // zero-extended: cannot name the top 2 GiB, so not the image
        ++n.outside;
        return true;
    case r_pc32:
    case r_plt32: {
        // Both ends inside the image move together; a relative reference out of it would not.
        uint64_t target = p + static_cast<uint64_t>(static_cast<int64_t>(field<int32_t>(at, 0)));
        if (!inside(target) && !inside(target + 4)) return false;
        ++n.relative;
        return true;
    }
    case r_pc64: {
        uint64_t target = p + field<uint64_t>(at, 0);
        if (!inside(target) && !inside(target + 8)) return false;
        ++n.relative;
        return true;
    }
    default: return false;
    }
}

} // namespace

bool in_relocated_image(const guest_image &g, uint64_t va) {
    return va >= g.virt_lo - g.virt_minus_phys && va < g.virt_hi - g.virt_minus_phys;
}

bool relocate_guest(const guest_image &g) {
    const uint8_t *f = g.elf.bytes;
    uint64_t shoff = field<uint64_t>(f, 0x28);
    uint16_t shentsize = field<uint16_t>(f, 0x3a), shnum = field<uint16_t>(f, 0x3c);
    if (!shoff || shentsize != 64 || shoff + uint64_t(shnum) * 64 > g.elf.size) {
        print("l4-wedge: guest: no section headers: the wedge cannot relocate it\n");
        return false;
    }
    counts n;
    unsigned tables = 0;
    for (unsigned i = 0; i < shnum; ++i) {
        const uint8_t *sh = f + shoff + uint64_t(i) * 64;
        if (field<uint32_t>(sh, 4) != sht_rela) continue;
        uint32_t target = field<uint32_t>(sh, 44);
        if (target >= shnum) continue;
        const uint8_t *tsh = f + shoff + uint64_t(target) * 64;
        uint32_t ttype = field<uint32_t>(tsh, 4);
        // Only what is loaded and runs: not the debug sections, nor the notes (the annotation
        // records keep their link addresses, which the site table uses).
        if (!(field<uint64_t>(tsh, 8) & shf_alloc) || ttype == sht_note || ttype == sht_nobits) continue;
        uint64_t off = field<uint64_t>(sh, 24), size = field<uint64_t>(sh, 32);
        if (off + size > g.elf.size || size % 24) {
            print("l4-wedge: guest: relocation section %u lies outside the file\n", i);
            return false;
        }
        ++tables;
        for (uint64_t r = 0; r < size; r += 24) {
            uint64_t p = field<uint64_t>(f + off, r);
            uint32_t type = static_cast<uint32_t>(field<uint64_t>(f + off, r + 8));
            if (p < g.virt_lo || p + 8 > g.virt_hi || !apply(g, p, type, n)) {
                print("l4-wedge: guest: relocation type %u at 0x%lx cannot be moved to the load address\n", type, p);
                return false;
            }
        }
    }
    if (!tables) {
        print("l4-wedge: guest: no relocations (link it with --emit-relocs): it cannot run below the kernel half\n");
        return false;
    }
    print("l4-wedge: guest: relocated to its load address 0x%lx (-0x%lx): %lu absolute 64-bit and %lu 32-bit "
          "references moved, %lu relative ones kept, %lu values outside the image kept\n",
          g.virt_lo - g.virt_minus_phys, g.virt_minus_phys, n.abs64, n.abs32s, n.relative, n.outside);
    return true;
}

} // namespace lw
