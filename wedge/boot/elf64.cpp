#include "wedge/boot/elf64.h"

namespace afterburn::boot {

namespace {

// ELF64 layouts (System V gABI), read field by field: no <elf.h> in a freestanding build.
template <typename T> T get(const uint8_t *p)
{
    T v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
constexpr uint64_t ehdr_size = 64, phdr_size = 56, shdr_size = 64;
constexpr uint32_t pt_load = 1, pt_note = 4;
constexpr uint16_t et_exec = 2, em_x86_64 = 62;
constexpr uint64_t shf_alloc = 2;

bool fits(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

} // namespace

void message::put(char c)
{
    if (len_ + 1 < sizeof st_.text) {
        st_.text[len_++] = c;
        st_.text[len_] = 0;
    }
}
message &message::s(const char *v)
{
    while (v && *v) put(*v++);
    return *this;
}
message &message::x(uint64_t v)
{
    put('0');
    put('x');
    int shift = 60;
    while (shift > 0 && ((v >> shift) & 0xf) == 0) shift -= 4;
    for (; shift >= 0; shift -= 4) put("0123456789abcdef"[(v >> shift) & 0xf]);
    return *this;
}
message &message::u(uint64_t v)
{
    char b[24];
    int n = 0;
    do {
        b[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) put(b[--n]);
    return *this;
}

uint64_t elf64_image::entry_virt() const
{
    for (unsigned i = 0; i < load_count; ++i)
        if (entry >= loads[i].paddr && entry - loads[i].paddr < loads[i].filesz)
            return entry - loads[i].paddr + loads[i].vaddr;
    return entry;
}

uint64_t elf64_image::phys_end() const
{
    uint64_t end = 0;
    for (unsigned i = 0; i < load_count; ++i)
        if (loads[i].paddr + loads[i].memsz > end) end = loads[i].paddr + loads[i].memsz;
    return end;
}

bool read_elf64_header(const uint8_t *b, uint64_t size, const char *name, elf64_header &h, status &st)
{
    h = elf64_header{};
    if (size < ehdr_size) {
        message(st, error::not_elf).s(name).s(": not an ELF file (").u(size).s(" bytes, shorter than an ELF header)");
        return false;
    }
    if (b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F') {
        message(st, error::not_elf).s(name).s(": not an ELF file (bad magic)");
        return false;
    }
    if (b[4] != 2) {
        message(st, error::not_elf).s(name).s(": not a 64-bit ELF (ELFCLASS ").u(b[4]).s(")");
        return false;
    }
    if (b[5] != 1) {
        message(st, error::not_elf).s(name).s(": not little-endian");
        return false;
    }
    h.type = get<uint16_t>(b + 16);
    h.machine = get<uint16_t>(b + 18);
    h.entry = get<uint64_t>(b + 24);
    h.phoff = get<uint64_t>(b + 32);
    h.phnum = get<uint16_t>(b + 56);
    st = status{};
    return true;
}

bool parse_elf64(const uint8_t *b, uint64_t size, const char *name, bool entry_is_physical, elf64_image &img,
                 status &st)
{
    img = elf64_image{};
    img.bytes = b;
    img.size = size;
    elf64_header h;
    if (!read_elf64_header(b, size, name, h, st)) return false;
    if (h.machine != em_x86_64) {
        message(st, error::not_elf).s(name).s(": not an x86-64 ELF (e_machine ").u(h.machine).s(")");
        return false;
    }
    if (h.type != et_exec) {
        message(st, error::not_elf).s(name).s(": not an executable ELF (e_type ").u(h.type).s(", want ET_EXEC)");
        return false;
    }
    img.entry = h.entry;
    uint64_t phoff = h.phoff;
    uint16_t phentsize = get<uint16_t>(b + 54), phnum = h.phnum;
    if (phnum == 0) {
        message(st, error::bad_headers).s(name).s(": no program headers");
        return false;
    }
    if (phentsize != phdr_size) {
        message(st, error::bad_headers).s(name).s(": e_phentsize ").u(phentsize).s(" is not 56");
        return false;
    }
    if (!fits(phoff, uint64_t(phnum) * phdr_size, size)) {
        message(st, error::bad_headers).s(name).s(": program headers lie beyond the end of the file (truncated?)");
        return false;
    }
    bool entry_ok = false;
    for (unsigned i = 0; i < phnum; ++i) {
        const uint8_t *ph = b + phoff + i * phdr_size;
        uint32_t p_type = get<uint32_t>(ph), flags = get<uint32_t>(ph + 4);
        uint64_t offset = get<uint64_t>(ph + 8), vaddr = get<uint64_t>(ph + 16), paddr = get<uint64_t>(ph + 24),
                 filesz = get<uint64_t>(ph + 32), memsz = get<uint64_t>(ph + 40);
        if (p_type == pt_note && filesz) {
            if (!fits(offset, filesz, size)) {
                message(st, error::bad_segment).s(name).s(": PT_NOTE ").u(i).s(": file data [").x(offset).s(", +")
                    .x(filesz).s(") lies beyond the end of the file (").u(size).s(" bytes; truncated?)");
                return false;
            }
            if (img.note_count == elf64_image::max_notes) {
                message(st, error::too_many).s(name).s(": more than ").u(elf64_image::max_notes).s(" PT_NOTE segments");
                return false;
            }
            img.notes[img.note_count++] = {vaddr, filesz, offset};
        }
        if (p_type != pt_load) continue;
        if (filesz > memsz) {
            message(st, error::bad_segment).s(name).s(": PT_LOAD ").u(i).s(": p_filesz > p_memsz (p_filesz ").x(filesz)
                .s(", p_memsz ").x(memsz).s(")");
            return false;
        }
        if (!fits(offset, filesz, size)) {
            message(st, error::bad_segment).s(name).s(": PT_LOAD ").u(i).s(": file data [").x(offset).s(", +").x(filesz)
                .s(") lies beyond the end of the file (").u(size).s(" bytes; truncated?)");
            return false;
        }
        if (paddr + memsz < paddr || vaddr + memsz < vaddr) {
            message(st, error::bad_segment).s(name).s(": PT_LOAD ").u(i).s(": address range wraps around");
            return false;
        }
        if (memsz == 0) continue;
        if (img.load_count == elf64_image::max_loads) {
            message(st, error::too_many).s(name).s(": more than ").u(elf64_image::max_loads).s(" PT_LOAD segments");
            return false;
        }
        img.loads[img.load_count++] = {vaddr, paddr, filesz, memsz, offset, flags};
        uint64_t base = entry_is_physical ? paddr : vaddr;
        if (img.entry >= base && img.entry - base < filesz) entry_ok = true;
    }
    if (img.load_count == 0) {
        message(st, error::bad_headers).s(name).s(": no PT_LOAD segment");
        return false;
    }
    if (!entry_ok) {
        message(st, error::bad_entry).s(name).s(": entry point ").x(img.entry)
            .s(entry_is_physical ? " is not inside a loaded segment's physical range (the 64-bit boot protocol "
                                   "enters e_entry as a physical address)"
                                 : " is not inside a loaded segment");
        return false;
    }
    st = status{};
    return true;
}

unsigned sections_named(const elf64_image &img, const char *want, virt_range *out, unsigned max)
{
    const uint8_t *b = img.bytes;
    uint64_t shoff = get<uint64_t>(b + 40);
    uint16_t shentsize = get<uint16_t>(b + 58), shnum = get<uint16_t>(b + 60), shstrndx = get<uint16_t>(b + 62);
    if (!shoff || !shnum || shentsize != shdr_size || !fits(shoff, uint64_t(shnum) * shdr_size, img.size) ||
        shstrndx >= shnum)
        return 0;
    const uint8_t *strtab = b + shoff + shstrndx * shdr_size;
    uint64_t str_off = get<uint64_t>(strtab + 24), str_size = get<uint64_t>(strtab + 32);
    if (!fits(str_off, str_size, img.size)) return 0;
    unsigned found = 0;
    for (unsigned i = 0; i < shnum; ++i) {
        const uint8_t *sh = b + shoff + i * shdr_size;
        uint32_t name = get<uint32_t>(sh);
        uint64_t flags = get<uint64_t>(sh + 8), addr = get<uint64_t>(sh + 16), sz = get<uint64_t>(sh + 32);
        if (!(flags & shf_alloc) || !sz || name >= str_size) continue;
        const char *n = reinterpret_cast<const char *>(b + str_off + name);
        uint64_t room = str_size - name, k = 0;
        while (k < room && want[k] && n[k] == want[k]) ++k;
        if (k < room && !want[k] && !n[k]) {
            if (found < max) out[found] = {addr, sz};
            ++found;
        }
    }
    return found;
}

} // namespace afterburn::boot

namespace afterburn::boot {

namespace {

constexpr uint64_t sym_size = 24;

struct symtab_view {
    uint64_t off, size;          // the symbols
    uint64_t str_off, str_size;  // their string table
};

// Calls f(symtab_view) for each SHT_SYMTAB section until f returns true; false when the
// section headers or a symbol table are malformed (or there is none: a stripped image).
template <typename F>
bool each_symtab(const elf64_image &img, F f)
{
    const uint8_t *b = img.bytes;
    uint64_t shoff = get<uint64_t>(b + 40);
    uint16_t shentsize = get<uint16_t>(b + 58), shnum = get<uint16_t>(b + 60);
    if (!shoff || !shnum || shentsize != shdr_size || !fits(shoff, uint64_t(shnum) * shdr_size, img.size)) return false;
    constexpr uint32_t sht_symtab = 2;
    for (unsigned i = 0; i < shnum; ++i) {
        const uint8_t *sh = b + shoff + i * shdr_size;
        if (get<uint32_t>(sh + 4) != sht_symtab) continue;
        symtab_view t{get<uint64_t>(sh + 24), get<uint64_t>(sh + 32), 0, 0};
        uint32_t link = get<uint32_t>(sh + 40);
        if (!fits(t.off, t.size, img.size) || link >= shnum) return false;
        const uint8_t *strsh = b + shoff + link * shdr_size;
        t.str_off = get<uint64_t>(strsh + 24);
        t.str_size = get<uint64_t>(strsh + 32);
        if (!fits(t.str_off, t.str_size, img.size)) return false;
        if (f(t)) return true;
    }
    return false;
}

} // namespace

bool symbol_value(const elf64_image &img, const char *want, uint64_t &value, uint64_t *size_out)
{
    const uint8_t *b = img.bytes;
    return each_symtab(img, [&](const symtab_view &t) {
        for (uint64_t at = t.off; at + sym_size <= t.off + t.size; at += sym_size) {
            uint32_t name = get<uint32_t>(b + at);
            if (name >= t.str_size) continue;
            const char *n = reinterpret_cast<const char *>(b + t.str_off + name);
            uint64_t room = t.str_size - name, k = 0;
            while (k < room && want[k] && n[k] == want[k]) ++k;
            if (k < room && !want[k] && !n[k]) {
                value = get<uint64_t>(b + at + 8);
                if (size_out) *size_out = get<uint64_t>(b + at + 16);
                return true;
            }
        }
        return false;
    });
}

bool symbol_at(const elf64_image &img, uint64_t va, const char *&name_out, uint64_t &offset)
{
    const uint8_t *b = img.bytes;
    constexpr uint8_t stt_section = 3, stt_file = 4;
    bool found = false, containing = false, malformed = false;
    uint64_t best = 0;
    each_symtab(img, [&](const symtab_view &t) {
        if (!t.str_size || b[t.str_off + t.str_size - 1]) return malformed = true;
        for (uint64_t at = t.off; at + sym_size <= t.off + t.size; at += sym_size) {
            uint32_t name = get<uint32_t>(b + at);
            uint8_t type = b[at + 4] & 0xf;
            uint64_t value = get<uint64_t>(b + at + 8), sz = get<uint64_t>(b + at + 16);
            if (name == 0 || name >= t.str_size || type == stt_section || type == stt_file || value > va) continue;
            bool holds = va - value < sz;
            // A symbol that holds va beats one that does not; among equals, the closest.
            if (found && (containing && !holds)) continue;
            if (found && containing == holds && value < best) continue;
            found = true;
            containing = holds;
            best = value;
            name_out = reinterpret_cast<const char *>(b + t.str_off + name);
        }
        return false;  // every symbol table
    });
    if (malformed) return false;
    if (found) offset = va - best;
    return found;
}

bool virt_to_phys(const elf64_image &img, uint64_t vaddr, uint64_t &paddr)
{
    for (unsigned i = 0; i < img.load_count; ++i)
        if (vaddr >= img.loads[i].vaddr && vaddr - img.loads[i].vaddr < img.loads[i].memsz) {
            paddr = vaddr - img.loads[i].vaddr + img.loads[i].paddr;
            return true;
        }
    return false;
}

} // namespace afterburn::boot
