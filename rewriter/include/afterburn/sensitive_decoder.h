// A freestanding decoder for the sensitive x86-64 instructions only. The wedge needs it for
// sites that reach it without an annotation (trap-and-emulate fallback); it yields exactly
// the fields an annotation record carries, and `afterburn scan` cross-checks it against
// LLVM's decoder on every record it validates.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "annotation.h"
#include "gated_class.h"

namespace afterburn::decoder {

// Everything a record says about a site except where it is and its padding. The host tools
// use the same struct for what LLVM decodes (afterburner/lib/site_classifier.h).
struct decoded {
    site_kind kind = site_kind::none;
    uint8_t insn_len = 0;
    uint8_t flags = 0;
    uint8_t reg = annotation::no_register;
    uint8_t special = annotation::no_register;
    uint8_t mem_base = annotation::no_register;
    uint8_t mem_index = annotation::no_register;
    uint8_t mem_scale = 0;
    uint8_t mem_seg = annotation::no_register;
    uint8_t disp_offset = annotation::no_displacement;
    uint8_t disp_size = 0;
    int32_t imm = 0;
};

// Decodes the 64-bit-mode instruction at bytes[0..avail). Returns true and fills `out` when
// it is a sensitive instruction; false for anything else (then `out` is unspecified).
bool decode_sensitive(const uint8_t *bytes, size_t avail, decoded &out);

// Decodes the 64-bit-mode instruction at bytes[0..avail) as one of the never-annotated,
// CPUID-gated classes (gated_class.h). True with the class and the instruction's length;
// false for anything else, including every instruction decode_sensitive knows.
bool decode_gated(const uint8_t *bytes, size_t avail, gated_class &cls, uint8_t &insn_len);

// Puts what was decoded into a record's instruction fields (kind, length, flags, operands,
// immediate); its site and padding stay as they are.
void store_decoded(const decoded &d, annotation::site_record &r);

} // namespace afterburn::decoder
