#include "afterburn/record_check.h"

namespace afterburn::annotation {

namespace {

bool gpr_or_none(uint8_t v) { return v <= 15 || v == no_register; }

bool is_region(site_kind k) { return k == site_kind::code16_region || k == site_kind::code32_region; }

// Kinds whose NOP padding goes in front (docs/annotation-format.md, "Interrupt shadows").
// A site padded with prefixes has no NOPs (pad_len 0), so nothing goes in front.
bool needs_pad_before(const site_record &r) { return r.pad_len != 0 && shadows_interrupts(r); }

bool is_segment_prefix(uint8_t b) { return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65; }

bool is_legacy_prefix(uint8_t b)
{
    return is_segment_prefix(b) || b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3;
}

// Leading padding_prefix bytes; the last byte is never one of them (it is the opcode's).
uint8_t leading_padding_prefixes(const site_record &r, const uint8_t *insn)
{
    uint8_t n = 0;
    while (n + 1 < r.insn_len && insn[n] == padding_prefix) ++n;
    return n;
}

// The operand fields of a record that has none: what afterburn-as writes for regions.
bool operands_unused(const site_record &r)
{
    return r.reg == no_register && r.special == no_register && r.mem_base == no_register &&
           r.mem_index == no_register && r.mem_scale == 0 && r.mem_seg == no_register &&
           r.disp_offset == no_displacement && r.disp_size == 0;
}

record_error check_memory(const site_record &r)
{
    if (r.mem_seg > seg_gs && r.mem_seg != no_register) return record_error::bad_memory;
    if (r.flags & flag_memory) {
        bool base_ok = r.mem_base <= rip_base || r.mem_base == no_register;
        bool scale_ok = r.mem_scale == 1 || r.mem_scale == 2 || r.mem_scale == 4 || r.mem_scale == 8;
        if (!base_ok || !gpr_or_none(r.mem_index) || !scale_ok) return record_error::bad_memory;
    } else if (r.mem_base != no_register || r.mem_index != no_register || r.mem_scale != 0) {
        return record_error::bad_memory;
    }
    if (r.disp_size == 0) return r.disp_offset == no_displacement ? record_error::ok : record_error::bad_displacement;
    if (!(r.flags & flag_memory) || (r.disp_size != 1 && r.disp_size != 4) ||
        static_cast<unsigned>(r.disp_offset) + r.disp_size > r.insn_len)
        return record_error::bad_displacement;
    return record_error::ok;
}

// Page-table sites (docs/annotation-format.md, "Page-table sites"): `special` names how the
// instruction reaches the entries, and only a memory-operand access carries an immediate.
record_error check_access_form(const site_record &r)
{
    auto form = static_cast<page_table_form>(r.special);
    if (r.special >= static_cast<uint8_t>(page_table_form::count)) return record_error::bad_access_form;
    bool memory = r.flags & flag_memory;
    if ((form == page_table_form::memory_operand) != memory) return record_error::bad_access_form;
    if ((r.flags & flag_rep) && form != page_table_form::string) return record_error::bad_access_form;
    if (r.flags & flag_port_dx) return record_error::bad_flags;
    return record_error::ok;
}

record_error check_imm(const site_record &r)
{
    auto k = static_cast<site_kind>(r.kind);
    if (site_kind_is_page_table(k))
        return r.imm == 0 || r.special == static_cast<uint8_t>(page_table_form::memory_operand) ? record_error::ok
                                                                                              : record_error::bad_imm;
    int32_t max = 0;
    if ((k == site_kind::in || k == site_kind::out) && !(r.flags & flag_port_dx)) max = 0xff;
    else if (k == site_kind::int_n) max = 0xff;
    else if (k == site_kind::lret) max = 0xffff;
    return r.imm >= 0 && r.imm <= max ? record_error::ok : record_error::bad_imm;
}

} // namespace

const char *record_error_text(record_error e)
{
    switch (e) {
    case record_error::ok: return "ok";
    case record_error::unknown_kind: return "unknown site kind";
    case record_error::region_fields:
        return "region record with instruction fields (insn_len, pad_len, flags and operands must be unused)";
    case record_error::region_length: return "region record with a negative length";
    case record_error::insn_len_range: return "insn_len outside 1..15";
    case record_error::site_too_small: return "insn_len + pad_len is below the kind's minimum site size";
    case record_error::bad_pad_before: return "pad_before flag does not match the kind's interrupt shadow";
    case record_error::bad_flags: return "rep or port_dx flag on a kind without that operand";
    case record_error::bad_reg: return "reg out of range or inconsistent with the register flag";
    case record_error::bad_special: return "special out of range";
    case record_error::bad_memory: return "memory operand fields out of range or set without the memory flag";
    case record_error::bad_displacement: return "displacement offset/size inconsistent or past the instruction";
    case record_error::bad_imm: return "imm out of range for the kind";
    case record_error::bad_access_form:
        return "page-table site: special is not an access form (0 memory operand, 1 string, 2 block call) or "
               "disagrees with the memory/rep flags";
    }
    return "unknown record error";
}

record_error check_record(const site_record &r)
{
    if (r.kind >= site_kind_count) return record_error::unknown_kind;
    auto k = static_cast<site_kind>(r.kind);
    if (is_region(k)) {
        // An instruction record whose kind byte became a region kind lands here: its port,
        // vector or pop count must never be read as a region length.
        if (r.insn_len || r.pad_len || r.flags || !operands_unused(r)) return record_error::region_fields;
        return r.imm < 0 ? record_error::region_length : record_error::ok;
    }
    if (k == site_kind::none) {
        // A padded statement that assembled to nothing sensitive: the rewriter ignores it.
        if (r.insn_len > 15) return record_error::insn_len_range;
        return (r.flags & flag_pad_before) ? record_error::bad_pad_before : record_error::ok;
    }
    if (r.insn_len < 1 || r.insn_len > 15) return record_error::insn_len_range;
    if (static_cast<unsigned>(r.insn_len) + r.pad_len < site_kind_min_size(k)) return record_error::site_too_small;
    if (bool(r.flags & flag_pad_before) != needs_pad_before(r)) return record_error::bad_pad_before;
    if (site_kind_is_page_table(k)) {
        if (record_error e = check_access_form(r); e != record_error::ok) return e;
        if ((r.flags & flag_register) ? r.reg > 15 : r.reg != no_register) return record_error::bad_reg;
        if (record_error e = check_memory(r); e != record_error::ok) return e;
        return check_imm(r);
    }
    bool string_io = k == site_kind::ins || k == site_kind::outs;
    bool port_io = k == site_kind::in || k == site_kind::out;
    if (((r.flags & flag_rep) && !string_io) || ((r.flags & flag_port_dx) && !port_io)) return record_error::bad_flags;
    if ((r.flags & flag_register) ? r.reg > 15 : r.reg != no_register) return record_error::bad_reg;
    if (!gpr_or_none(r.special)) return record_error::bad_special;
    if (record_error e = check_memory(r); e != record_error::ok) return e;
    return check_imm(r);
}

bool record_takes_prefix_padding(const site_record &r)
{
    auto k = static_cast<site_kind>(r.kind);
    if (r.kind >= site_kind_count || !site_kind_takes_prefix_padding(k)) return false;
    return !site_kind_is_page_table(k) || r.special == static_cast<uint8_t>(page_table_form::memory_operand);
}

uint8_t padding_prefix_count(const site_record &r, const uint8_t *insn)
{
    uint8_t lead = leading_padding_prefixes(r, insn);
    auto k = static_cast<site_kind>(r.kind);
    if (lead == 0 || r.pad_len != 0 || r.kind >= site_kind_count) return 0;
    return static_cast<unsigned>(r.insn_len - lead) < site_kind_min_size(k) ? lead : 0;
}

const char *padding_error_text(padding_error e)
{
    switch (e) {
    case padding_error::ok: return "ok";
    case padding_error::mixed_segment_prefixes:
        return "repeated or mixed segment-override prefixes that are not afterburn's padding (0x2e bytes in front)";
    case padding_error::prefixes_and_nops: return "padding prefixes and NOP padding on one site";
    case padding_error::prefixes_past_minimum:
        return "more padding prefixes than the kind's minimum site size needs";
    case padding_error::prefixes_on_nop_kind:
        return "padding prefixes on a kind or access form that is padded with NOPs";
    }
    return "unknown padding error";
}

padding_error check_padding_prefixes(const site_record &r, const uint8_t *insn)
{
    if (r.kind >= site_kind_count || !site_kind_is_instruction(static_cast<site_kind>(r.kind)) || !r.insn_len)
        return padding_error::ok;
    uint8_t lead = leading_padding_prefixes(r, insn);
    // Segment overrides among the instruction's own legacy prefixes, after the padding run.
    unsigned overrides = 0;
    for (uint8_t i = lead; i < r.insn_len && is_legacy_prefix(insn[i]); ++i) overrides += is_segment_prefix(insn[i]);
    if (overrides > 1 || (lead > 0 && overrides > 0)) return padding_error::mixed_segment_prefixes;
    // One leading CS override on a long enough or NOP-padded instruction is the instruction's
    // own (redundant in 64-bit mode, but what the source wrote); a run of them is ours.
    uint8_t padding = padding_prefix_count(r, insn);
    if (padding == 0) {
        if (lead <= 1) return padding_error::ok;
        return r.pad_len ? padding_error::prefixes_and_nops : padding_error::prefixes_past_minimum;
    }
    if (!record_takes_prefix_padding(r)) return padding_error::prefixes_on_nop_kind;
    if (r.insn_len != static_cast<uint8_t>(site_kind_min_size(static_cast<site_kind>(r.kind)))) return padding_error::prefixes_past_minimum;
    return padding_error::ok;
}

const char *placement_error_text(placement_error e)
{
    switch (e) {
    case placement_error::ok: return "ok";
    case placement_error::replacement_outside: return "replacement flag on a site outside .altinstr_replacement";
    case placement_error::replacement_missing: return "site in .altinstr_replacement without the replacement flag";
    }
    return "unknown placement error";
}

placement_error check_placement(const site_record &r, bool site_in_replacement_section)
{
    if (is_region(static_cast<site_kind>(r.kind))) return placement_error::ok;
    bool flagged = r.flags & flag_replacement;
    if (flagged && !site_in_replacement_section) return placement_error::replacement_outside;
    if (!flagged && site_in_replacement_section) return placement_error::replacement_missing;
    return placement_error::ok;
}

} // namespace afterburn::annotation
