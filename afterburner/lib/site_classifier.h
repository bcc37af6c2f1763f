// Which x86-64 instructions are sensitive, and the decoded operands an annotation record
// carries for them. The single source of truth for afterburn-as and afterburn scan.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <llvm/MC/MCInst.h>

#include "afterburn/annotation.h"
#include "afterburn/sensitive_decoder.h"
#include "x86_toolkit.h"

namespace afterburn {

// The sensitive kind of an LLVM X86 opcode name ("CLI", "MOV64rc", ...), or none.
site_kind kind_of_opcode(std::string_view opcode_name);

// The CPUID-gated class (never annotated, see gated_class.h) of an LLVM X86 opcode name, or
// gated_class::count.
gated_class gated_of_opcode(std::string_view opcode_name);

// Instructions that only carry a prefix for the next one ("rep; outsb").
bool is_prefix_opcode(std::string_view opcode_name);

// sti and mov/pop to %ss delay interrupts until after the next instruction, so their
// padding must come before them (annotation::flag_pad_before).
bool has_interrupt_shadow(site_kind kind, uint8_t special);

// Does the instruction name a segment for its memory operand (%fs:(%rax), %ds:8(%rsp), ...)?
// Such an instruction keeps NOP padding: padding prefixes would be a second override.
bool has_segment_override(const llvm::MCInst &inst, const x86_toolkit &tk);

// Any form of NOP (what padding decodes to).
bool is_nop_opcode(std::string_view opcode_name);

// Everything a record says about a site except where it is and how long the padding is:
// the same fields the wedge's own decoder produces.
using site_description = decoder::decoded;

// Describes a decoded 64-bit instruction from the MCInst and its bytes. kind is none for
// instructions that are not sensitive.
site_description describe_instruction(const llvm::MCInst &inst, std::span<const uint8_t> bytes,
                                      const x86_toolkit &tk);

// Describes the instruction at a page-table site (kind page_table_store or page_table_load,
// which the compiler pass chose by C type, not by opcode): its access form in `special`, the
// memory operand, register and immediate, the access width in opsize. False, with `why` set,
// when the instruction reaches no memory the form can describe.
// Decodes the instruction at a page-table site: LLVM decodes a `lock` prefix as an instruction
// of its own, so prefixes are stepped over (the record's insn_len includes them). Returns the
// bytes used, prefixes included, or 0.
unsigned decode_page_table_site(std::span<const uint8_t> bytes, const x86_toolkit &tk, llvm::MCInst &inst);

bool describe_page_table_access(const llvm::MCInst &inst, std::span<const uint8_t> bytes, const x86_toolkit &tk,
                                site_kind kind, site_description &d, const char *&why);

// Copies a description into a record (site and pad_len are left alone).
void store_description(const site_description &d, annotation::site_record &r);

// Decodes the same bytes with the wedge's freestanding decoder (rewriter/sensitive_decoder)
// and returns the first field on which it disagrees with d, or nullptr.
const char *decoder_disagreement(const site_description &d, std::span<const uint8_t> bytes);

// Compares the fields a description and a record share; returns the first differing field
// name, or nullptr when they agree.
const char *first_difference(const site_description &d, const annotation::site_record &r);

} // namespace afterburn
