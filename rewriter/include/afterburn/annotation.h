// The annotation table: how afterburn-as describes every sensitive site in an object, and
// how the load-time rewriter and `afterburn scan` read it back. Layout is an ABI; the
// prose specification is docs/annotation-format.md. Freestanding (no libc).
#pragma once

#include <stdint.h>

#include "site_kind.h"

namespace afterburn::annotation {

// Each annotated object carries one ELF note (SHT_NOTE section ".note.afterburn", flags "a")
// with this name and type. Linkers concatenate the notes; every one is self-describing.
inline constexpr char note_name[] = "Afterburn";          // namesz = 10 (with the NUL)
inline constexpr uint32_t note_name_size = 10;
inline constexpr uint32_t note_type_sites = 0x41420001;   // 'AB', table kind 1
inline constexpr char section_name[] = ".note.afterburn";

inline constexpr uint16_t format_version = 1;

// Start of every note's descriptor.
struct table_header {
    uint16_t version;      // format_version
    uint16_t record_size;  // sizeof(site_record); readers skip unknown trailing fields
    uint32_t reserved;     // zero
};
static_assert(sizeof(table_header) == 8);

inline constexpr uint8_t no_register = 0xff;  // reg / mem_base / mem_index / mem_seg unused
inline constexpr uint8_t rip_base = 16;       // mem_base value for RIP-relative operands
inline constexpr uint8_t no_displacement = 0xff;

// flags
inline constexpr uint8_t flag_opsize_mask = 0x03;  // operand size: 0=8, 1=16, 2=32, 3=64 bit
inline constexpr uint8_t flag_rep = 0x04;          // REP/REPE prefix (ins/outs)
inline constexpr uint8_t flag_port_dx = 0x08;      // in/out port is %dx (else imm)
inline constexpr uint8_t flag_memory = 0x10;       // the operand described by mem_* is used
inline constexpr uint8_t flag_register = 0x20;     // `reg` holds a general-purpose register
inline constexpr uint8_t flag_pad_before = 0x40;   // NOP padding precedes the instruction (see below)
inline constexpr uint8_t flag_replacement = 0x80;  // site lies in .altinstr_replacement

// A site is padded one of two ways (docs/annotation-format.md, "Padding sizes"):
// - with redundant CS prefixes (padding_prefix) in front of the instruction: they are part
//   of it, so insn_len counts them, pad_len is 0 and the site is one instruction;
// - with NOPs: after it, [site + insn_len, site + insn_len + pad_len), or, for an instruction
//   with an interrupt shadow (sti, mov/pop to %ss, which must stay immediately before the
//   instruction they protect: "sti; hlt"), in front of it: [site - pad_len, site) are NOPs,
//   then the instruction, and flag_pad_before is set (only then: never with pad_len 0).
inline constexpr uint8_t padding_prefix = 0x2e;  // CS override: ignored in 64-bit mode

// One record per site, 20 bytes, 4-byte aligned, position independent.
struct site_record {
    int32_t site;          // address of the instruction minus the address of this field
    uint8_t kind;          // site_kind
    uint8_t insn_len;      // length of the original instruction (prefixes included)
    uint8_t pad_len;       // NOP padding bytes that follow it (precede it with flag_pad_before)
    uint8_t flags;         // flag_*
    uint8_t reg;           // GPR number 0..15 (see per-kind meaning in the spec)
    uint8_t special;       // CR/DR number, segment register, or lar/lsl source GPR
    uint8_t mem_base;      // 0..15, rip_base, or no_register
    uint8_t mem_index;     // 0..15 or no_register
    uint8_t mem_scale;     // 1, 2, 4, 8 (0 without a memory operand)
    uint8_t mem_seg;       // segment override 0..5 (es cs ss ds fs gs) or no_register
    uint8_t disp_offset;   // offset of the displacement inside the instruction, or no_displacement
    uint8_t disp_size;     // 0, 1 or 4 bytes
    int32_t imm;           // immediate: port (in/out imm8), vector (int n), lret pop count;
                           // for regions: region length in bytes
};
static_assert(sizeof(site_record) == 20);

// Segment register numbering used by `special` and `mem_seg` (the x86 sreg encoding).
enum segment : uint8_t { seg_es = 0, seg_cs = 1, seg_ss = 2, seg_ds = 3, seg_fs = 4, seg_gs = 5 };

inline constexpr unsigned operand_bits(uint8_t flags) { return 8u << (flags & flag_opsize_mask); }

// sti and mov/pop to %ss hold off interrupts until the next instruction has run: nothing may
// come between them and it, however the site is padded or rewritten.
constexpr bool shadows_interrupts(const site_record &r)
{
    auto k = static_cast<site_kind>(r.kind);
    return k == site_kind::sti || ((k == site_kind::mov_to_seg || k == site_kind::pop_seg) && r.special == seg_ss);
}

} // namespace afterburn::annotation
