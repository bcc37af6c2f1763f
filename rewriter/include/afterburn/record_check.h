// The one validity check for an annotation record: every constraint that
// docs/annotation-format.md ("Validation") places on a record's own fields. `afterburn scan`,
// `afterburn rewrite` and every wedge call it before trusting a record, so all of them refuse
// the same records with the same words. Freestanding (no libc, no allocation): the wedges
// link it as is (add record_check.cpp to their rewriter sources).
//
// What a record alone cannot say is checked by the caller with the image at hand: that the
// site lies in an executable section, that the bytes there are the described instruction and
// its padding NOPs, and check_placement() below once the caller knows the site's section.
#pragma once

#include <stdint.h>

#include "annotation.h"

namespace afterburn::annotation {

enum class record_error : uint8_t {
    ok,
    unknown_kind,          // kind >= site_kind_count
    region_fields,         // a region record with instruction fields (insn_len, pad_len, flags, operands)
    region_length,         // a region record with a negative length
    insn_len_range,        // instruction kind with insn_len outside 1..15, or `none` above 15
    site_too_small,        // insn_len + pad_len below the kind's minimum site size
    bad_pad_before,        // pad_before set on a kind without an interrupt shadow, or missing on one
    bad_flags,             // rep / port_dx on a kind that has no such operand
    bad_reg,               // reg not 0..15 with the register flag, or not 0xff without it
    bad_special,           // special not 0..15 / 0xff
    bad_memory,            // mem_base / mem_index / mem_scale / mem_seg out of range or set without memory
    bad_displacement,      // disp_size not 0/1/4, disp_offset inconsistent or past the instruction
    bad_imm,               // imm out of range for the kind (port, vector, pop count) or set where unused
    bad_access_form,       // page-table site: `special` is no access form, or disagrees with the memory/rep flags
};

// A sentence for reports ("region record with instruction fields ...").
const char *record_error_text(record_error e);

// Checks everything a record says about itself (see the enum). Pure function of its bytes.
record_error check_record(const site_record &r);

// The replacement flag must be set exactly on records whose site lies in
// .altinstr_replacement; a caller that knows the site's section checks it here.
enum class placement_error : uint8_t { ok, replacement_outside, replacement_missing };
const char *placement_error_text(placement_error e);
placement_error check_placement(const site_record &r, bool site_in_replacement_section);

} // namespace afterburn::annotation
