#include "wedge/site_table.h"

#include "afterburn/record_check.h"
#include "afterburn/site_kind.h"

namespace afterburn::wedge {

namespace ann = annotation;

// The single gate for records.
admit_result site_table::admit(const ann::site_record &rec) const
{
    // The one record check every reader shares (afterburn scan and rewrite, every wedge):
    // a record they refuse is refused here with the same words.
    ann::record_error e = ann::check_record(rec);
    if (e != ann::record_error::ok) return {admission::refused, ann::record_error_text(e)};
    auto kind = static_cast<site_kind>(rec.kind);
    // none and the 16/32-bit code regions name no instruction of their own.
    if (kind == site_kind::none || kind == site_kind::code16_region || kind == site_kind::code32_region)
        return {admission::not_site, ""};
    // Page-table accesses are checked like every record but take no slot unless the plan routes
    // them through the wedge (keep_page_table_sites): left native, Linux's hundreds of them
    // would only crowd the sensitive sites of the wedges' fixed tables.
    if ((kind == site_kind::page_table_store && !keep_page_table_store_) ||
        (kind == site_kind::page_table_load && !keep_page_table_load_))
        return {admission::not_site, ""};
    if (static_cast<uint32_t>(rec.insn_len) + rec.pad_len > site::max_span)
        return {admission::refused, "instruction and padding longer than 32 bytes"};
    return {admission::site, ""};
}

ann::walk_result site_table::add_notes(const uint8_t *bytes, uint64_t size, uint64_t vaddr, note_refusal &refusal)
{
    refusal = {};
    return ann::walk_tables(bytes, bytes + size, [&](const ann::table_view &t) {
        for (uint32_t i = 0; i < t.count && !refusal.refused; ++i) {
            const ann::site_record &r = ann::table_record(t, i);
            const auto field = vaddr + static_cast<uint64_t>(reinterpret_cast<const uint8_t *>(&r.site) - bytes);
            const uint64_t addr = field + static_cast<int64_t>(r.site);
            const admit_result a = add(r, addr);
            if (a.what == admission::refused || a.what == admission::full)
                refusal = {true, i, r.kind, addr, a.why};
        }
    });
}

admit_result site_table::add(const ann::site_record &rec, uint64_t site_addr)
{
    admit_result r = admit(rec);
    if (r.what != admission::site) return r;
    if (count_ == capacity_) return {admission::full, "more sites than the table holds"};
    site &s = sites_[count_++];
    s = site{};
    s.insn = site_addr;
    s.start = (rec.flags & ann::flag_pad_before) ? site_addr - rec.pad_len : site_addr;
    s.end = s.start + rec.insn_len + rec.pad_len;
    s.rec = rec;
    return r;
}

bool site_table::seal(site_conflict &conflict)
{
    // Insertion sort: run once, on records that come mostly in address order already.
    for (uint32_t i = 1; i < count_; ++i) {
        site s = sites_[i];
        uint32_t j = i;
        for (; j && sites_[j - 1].start > s.start; --j) sites_[j] = sites_[j - 1];
        sites_[j] = s;
    }
    for (uint32_t i = 1; i < count_; ++i)
        if (sites_[i].start < sites_[i - 1].end) {
            conflict = {&sites_[i - 1], &sites_[i]};
            return false;
        }
    return true;
}

void site_table::mark_user_code(uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < count_; ++i)
        if (sites_[i].start < hi && sites_[i].end > lo) sites_[i].user_code = true;
}

void site_table::mark_position_independent(uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < count_; ++i)
        if (sites_[i].start < hi && sites_[i].end > lo) sites_[i].position_independent = true;
}

uint32_t site_table::first_starting_after(uint64_t addr) const
{
    uint32_t lo = 0, hi = count_;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sites_[mid].start <= addr) lo = mid + 1; else hi = mid;
    }
    return lo;
}

const site *site_table::find_by_return(uint64_t ret) const
{
    // The call ends inside its span, after `start`: the last span starting before `ret`.
    if (ret == 0) return nullptr;
    uint32_t i = first_starting_after(ret - 1);
    if (i == 0) return nullptr;
    const site *s = &sites_[i - 1];
    return ret <= s->end && s->rewritten ? s : nullptr;
}

const site *site_table::find_by_insn(uint64_t insn) const
{
    uint32_t i = first_starting_after(insn);
    if (i == 0) return nullptr;
    const site *s = &sites_[i - 1];
    return s->insn == insn ? s : nullptr;
}

void site_table::overlay_original(uint64_t va, uint8_t *buf, size_t len) const
{
    if (!len) return;
    for (uint32_t i = first_starting_after(va + len - 1); i-- > 0;) {
        const site &s = sites_[i];
        if (s.end <= va) break;  // spans do not overlap: every earlier one ends before this
        if (!s.changed()) continue;
        for (uint64_t a = s.start > va ? s.start : va; a < s.end && a < va + len; ++a)
            buf[a - va] = s.original[a - s.start];
    }
}

} // namespace afterburn::wedge
