// Synthetic ELF64 x86-64 executables for the wedge/boot host tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace afterburn::boot::test {

template <typename T> void put(std::vector<uint8_t>& b, size_t off, T v) { std::memcpy(b.data() + off, &v, sizeof v); }
template <typename T> T get(const uint8_t* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

struct seg {
    uint32_t type;
    uint64_t vaddr, paddr;
    std::vector<uint8_t> data;
    uint64_t memsz;
    uint32_t flags = 0;
};

// An ELF64 x86-64 ET_EXEC: header, program headers, then each segment's bytes; optionally
// a section table naming one allocated section `.user` at `user_addr`.
inline std::vector<uint8_t> make_elf(uint64_t entry, const std::vector<seg>& segs, uint64_t user_addr = 0)
{
    size_t off = 64 + 56 * segs.size();
    std::vector<uint8_t> b(off);
    b[0] = 0x7f; b[1] = 'E'; b[2] = 'L'; b[3] = 'F'; b[4] = 2; b[5] = 1; b[6] = 1;
    put<uint16_t>(b, 16, 2);
    put<uint16_t>(b, 18, 62);
    put<uint64_t>(b, 24, entry);
    put<uint64_t>(b, 32, 64);
    put<uint16_t>(b, 52, 64);
    put<uint16_t>(b, 54, 56);
    put<uint16_t>(b, 56, static_cast<uint16_t>(segs.size()));
    for (size_t i = 0; i < segs.size(); i++) {
        size_t ph = 64 + 56 * i;
        put<uint32_t>(b, ph, segs[i].type);
        put<uint32_t>(b, ph + 4, segs[i].flags);
        put<uint64_t>(b, ph + 8, b.size());
        put<uint64_t>(b, ph + 16, segs[i].vaddr);
        put<uint64_t>(b, ph + 24, segs[i].paddr);
        put<uint64_t>(b, ph + 32, segs[i].data.size());
        put<uint64_t>(b, ph + 40, segs[i].memsz);
        b.insert(b.end(), segs[i].data.begin(), segs[i].data.end());
    }
    if (user_addr) {
        const char names[] = "\0.shstrtab\0.user\0";
        size_t str_off = b.size();
        b.insert(b.end(), names, names + sizeof names);
        size_t shoff = (b.size() + 7) & ~size_t(7);
        b.resize(shoff + 3 * 64);
        put<uint64_t>(b, 40, shoff);
        put<uint16_t>(b, 58, 64);
        put<uint16_t>(b, 60, 3);
        put<uint16_t>(b, 62, 1);
        size_t s1 = shoff + 64, s2 = shoff + 128;
        put<uint32_t>(b, s1, 1);            // .shstrtab
        put<uint32_t>(b, s1 + 4, 3);
        put<uint64_t>(b, s1 + 24, str_off);
        put<uint64_t>(b, s1 + 32, sizeof names);
        put<uint32_t>(b, s2, 11);           // .user
        put<uint32_t>(b, s2 + 4, 1);
        put<uint64_t>(b, s2 + 8, 2 | 4);    // SHF_ALLOC | SHF_EXECINSTR
        put<uint64_t>(b, s2 + 16, user_addr);
        put<uint64_t>(b, s2 + 32, 0x100);
    }
    return b;
}

} // namespace afterburn::boot::test
