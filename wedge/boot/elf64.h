// ELF64 x86-64 executables as a guest loader needs them: validated program headers
// (PT_LOAD, PT_NOTE), the entry point, and named allocated sections. Freestanding: it
// reads the caller's bytes and allocates nothing.
#pragma once

#include <stdint.h>

namespace afterburn::boot {

// What went wrong, for callers that act on the kind; the text says what and where.
enum class error : uint8_t {
    none,
    not_elf,            // too short, bad magic, not ELF64 / little-endian / x86-64 / ET_EXEC
    bad_headers,        // program headers malformed or beyond the end of the file (truncated)
    bad_segment,        // a PT_LOAD or PT_NOTE whose data is beyond the file; a PT_LOAD that wraps or
                        // has filesz > memsz
    bad_entry,          // e_entry outside every loaded segment
    too_many,           // more segments/notes/e820 entries/ranges than the fixed tables hold
    outside_ram,        // a segment or boot structure does not fit guest RAM (more memory helps)
    overlaps,           // a segment overlaps the caller's boot data or a reserved range
    no_room_for_initrd, // RAM is too small for the initrd above the kernel (more memory helps)
    cmdline_too_long,
};

struct status {
    error code = error::none;
    char text[256] = {};
    bool ok() const { return code == error::none; }
};

struct load_segment {
    uint64_t vaddr, paddr, filesz, memsz, offset;
    uint32_t flags;  // p_flags (PF_X 1, PF_W 2, PF_R 4)
};
struct virt_range {
    uint64_t vaddr, size;
};
struct note_segment {
    uint64_t vaddr, size, offset;  // p_vaddr, p_filesz, p_offset (inside the file)
};

// The ELF header fields a loader or a diagnostic wants.
struct elf64_header {
    uint16_t type, machine;  // e_type, e_machine
    uint64_t entry, phoff;   // e_entry, e_phoff
    uint16_t phnum;          // e_phnum
};

struct elf64_image {
    static constexpr unsigned max_loads = 16, max_notes = 8;
    const uint8_t *bytes;
    uint64_t size;
    uint64_t entry;               // e_entry
    load_segment loads[max_loads];  // PT_LOADs with p_memsz > 0, in header order
    unsigned load_count;
    note_segment notes[max_notes];  // PT_NOTEs with p_filesz > 0, inside the file
    unsigned note_count;

    // e_entry translated from its PT_LOAD's physical range to the virtual one (e_entry
    // itself when no segment holds it).
    uint64_t entry_virt() const;
    // Highest p_paddr + p_memsz.
    uint64_t phys_end() const;
};

// Reads the header of any little-endian ELF64 file (any type or machine): checks the size,
// magic, class and byte order only. `name` prefixes messages.
bool read_elf64_header(const uint8_t *bytes, uint64_t size, const char *name, elf64_header &out, status &st);

// Validates `bytes` as an ELF64 x86-64 ET_EXEC with at least one PT_LOAD. When
// `entry_is_physical`, e_entry must lie inside a PT_LOAD's physical range (the 64-bit boot
// protocol); otherwise inside a virtual one. `name` prefixes messages.
bool parse_elf64(const uint8_t *bytes, uint64_t size, const char *name, bool entry_is_physical,
                 elf64_image &out, status &st);

// Allocated sections called `name`; returns how many were found (at most `max` stored).
unsigned sections_named(const elf64_image &img, const char *name, virt_range *out, unsigned max);

// The value of the symbol `name` in the image's symbol table (.symtab); false if there is
// none (stripped images) or no such symbol.
bool symbol_value(const elf64_image &img, const char *name, uint64_t &value, uint64_t *size = nullptr);
// The symbol of .symtab that holds `va` (value <= va < value + size), or else the nearest one
// below it: its name (NUL-terminated, inside the image's bytes) and va's offset from it; false
// if there is none (stripped images). For failure reports: a linear scan.
bool symbol_at(const elf64_image &img, uint64_t va, const char *&name, uint64_t &offset);
// A virtual address inside a PT_LOAD translated to its physical one; false if none holds it.
bool virt_to_phys(const elf64_image &img, uint64_t vaddr, uint64_t &paddr);

// Message helper (freestanding snprintf subset): appends to st.text and sets st.code.
// Format: %s string, %x hex with 0x, %u unsigned decimal (all arguments 64-bit or char*).
class message {
public:
    explicit message(status &st, error code) : st_(st) { st_.code = code; st_.text[0] = 0; len_ = 0; }
    message &s(const char *v);
    message &x(uint64_t v);
    message &u(uint64_t v);

private:
    void put(char c);
    status &st_;
    unsigned len_;
};

} // namespace afterburn::boot
