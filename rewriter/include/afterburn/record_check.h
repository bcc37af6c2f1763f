// The one validity check for an annotation record: every constraint that
// docs/annotation-format.md ("Validation") places on a record's own fields. `afterburn scan`,
// `afterburn rewrite` and every wedge call it before trusting a record, so all of them refuse
// the same records with the same words. Freestanding (no libc, no allocation): the wedges
// link it as is (add record_check.cpp to their rewriter sources).
//
// What a record alone cannot say is checked by the caller with the image at hand: that the
// site lies in an executable section, that the bytes there are the described instruction and
// its padding NOPs, check_padding_prefixes() below on the instruction's bytes, and
// check_placement() once the caller knows the site's section.
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

// Padding prefixes (docs/annotation-format.md, "Padding sizes"): afterburn-as pads a short
// instruction to its kind's minimum site size with padding_prefix bytes in front of it, and
// nothing else. `insn` holds the record's insn_len bytes at its site. Refused: a run of those
// prefixes on a site also padded with NOPs, longer than the minimum size needs, on a kind or
// access form that keeps NOP padding, or before an instruction with a segment override of its
// own; and, on any site, repeated or mixed segment-override prefixes (not our form).
enum class padding_error : uint8_t {
    ok,
    mixed_segment_prefixes,  // more than one segment override besides the leading padding run
    prefixes_and_nops,       // padding prefixes and NOP padding on one site
    prefixes_past_minimum,   // more padding prefixes than the kind's minimum site size needs
    prefixes_on_nop_kind,    // padding prefixes on ins/outs or a string/block-call page-table site
};
const char *padding_error_text(padding_error e);
padding_error check_padding_prefixes(const site_record &r, const uint8_t *insn);

// How many of the instruction's first bytes are padding prefixes (0 for a NOP-padded site).
uint8_t padding_prefix_count(const site_record &r, const uint8_t *insn);

// Does this record's kind (and, for a page-table site, its access form) take prefix padding?
bool record_takes_prefix_padding(const site_record &r);

} // namespace afterburn::annotation
