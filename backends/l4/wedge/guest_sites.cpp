#include "guest_sites.h"

#include "afterburn/annotation_reader.h"
#include "afterburn/site_kind.h"
#include "console.h"
#include "guest_ram.h"
#include "wedge/boot/linux_boot.h"
#include "wedge/rewrite_plan.h"
#include "wedge/site_rewrite.h"
#include "wedge/site_table.h"

namespace lw {

namespace wedge = afterburn::wedge;
namespace ann = afterburn::annotation;
namespace boot = afterburn::boot;

namespace {

constinit wedge::site g_site_storage[8192];
constinit wedge::site_table g_sites(g_site_storage, 8192);

bool collect_sites(const guest_image &g) {
    for (unsigned n = 0; n < g.elf.note_count; ++n) {
        const boot::note_segment &note = g.elf.notes[n];
        const uint8_t *bytes = g.elf.bytes + note.offset;
        wedge::note_refusal no;
        auto res = g_sites.add_notes(bytes, note.size, note.vaddr, no);
        if (no.refused) {
            print("l4-wedge: guest: PT_NOTE %u at 0x%lx: record %u (kind %u, site 0x%lx): %s\n", n, note.vaddr,
                  no.record, no.kind, no.site_addr, no.why);
            return false;
        }
        if (res.error != ann::table_error::ok) {
            print("l4-wedge: guest: PT_NOTE %u at 0x%lx: malformed notes at offset 0x%lx: %s\n", n, note.vaddr,
                  res.error_offset, ann::table_error_text(res.error));
            return false;
        }
    }
    wedge::site_conflict c;
    if (!g_sites.seal(c)) {
        print("l4-wedge: guest: sites overlap: [0x%lx, 0x%lx) and [0x%lx, 0x%lx)\n", c.first->start, c.first->end,
              c.second->start, c.second->end);
        return false;
    }
    return true;
}

// Ring-3 code (.user) and head code, marked as `afterburn rewrite` marks them. Only sections
// named exactly ".user" are ring-3 code here; `afterburn rewrite` also takes ".user.*".
void mark_sections(const guest_image &g, const wedge::rewrite_plan &plan) {
    boot::virt_range r[8];
    unsigned n = boot::sections_named(g.elf, ".user", r, 8);
    for (unsigned i = 0; i < n && i < 8; ++i) g_sites.mark_user_code(r[i].vaddr, r[i].vaddr + r[i].size);
    n = boot::sections_named(g.elf, ".head.text", r, 8);
    for (unsigned i = 0; i < n && i < 8; ++i) wedge::mark_head_code(g_sites, plan, r[i].vaddr, r[i].vaddr + r[i].size);
    uint64_t lo, hi;
    if (boot::linux_head_code(g.elf, lo, hi)) wedge::mark_head_code(g_sites, plan, lo, hi);
}

// The sites' bytes in guest RAM, found from their link addresses.
class guest_text final : public wedge::site_bytes {
public:
    explicit guest_text(const guest_image &g) : g_(g) {}
    uint8_t *span(uint64_t start, uint32_t size) override {
        if (start < g_.virt_lo || start + size > g_.virt_hi) return nullptr;
        return guest_phys(start - g_.virt_minus_phys, size);
    }
    void cannot_rewrite(const wedge::site &s, afterburn::rewriter::outcome why) override {
        print("l4-wedge: guest: site 0x%lx (%s) not rewritten: %s\n", s.start,
              afterburn::site_kind_name(static_cast<afterburn::site_kind>(s.rec.kind)),
              afterburn::rewriter::outcome_text(why));
    }

private:
    const guest_image &g_;
};

} // namespace

uint8_t *site_original_bytes(uint64_t link, uint32_t len, bool &straddles) {
    straddles = false;
    uint32_t i = g_sites.first_at_or_after(link + 1);  // the last site starting at or before link
    if (i == 0) return nullptr;
    wedge::site &s = g_sites[i - 1];
    if (i < g_sites.count() && g_sites[i].start < link + len && g_sites[i].changed()) straddles = true;
    if (!s.changed() || link >= s.end) return nullptr;
    if (link + len > s.end) {
        straddles = true;
        return nullptr;
    }
    return s.original + (link - s.start);
}

const wedge::site *site_by_return(uint64_t link_ret) { return g_sites.find_by_return(link_ret); }

const wedge::site *site_by_insn(uint64_t link) { return g_sites.find_by_insn(link); }

void overlay_site_originals(uint64_t link, uint8_t *buf, uint64_t len) { g_sites.overlay_original(link, buf, len); }

bool rewrite_guest_sites(const guest_image &g) {
    if (!collect_sites(g)) return false;
    const wedge::rewrite_plan plan = wedge::plan_for(wedge::backend_id::l4);
    mark_sections(g, plan);
    guest_text text(g);
    wedge::rewrite_counts c = wedge::apply_plan(g_sites, plan, text);
    print("l4-wedge: guest: %u sites: rewrote %u (%u cli as inline stores), %u left by the l4 plan, %u left in "
          "ring-3 code (%u of them trap with int3), %u outside the image, %u could not be rewritten\n",
          g_sites.count(), c.rewritten, c.inline_stores, c.by_plan, c.user, c.user_int3, c.outside, c.failed);
    print("l4-wedge: guest: rewritten by kind:");
    for (unsigned k = 0; k < afterburn::site_kind_count; ++k)
        if (c.by_kind[k]) print(" %s %u", afterburn::site_kind_name(static_cast<afterburn::site_kind>(k)), c.by_kind[k]);
    print("\n");
    print("l4-wedge: guest: sites digest 0x%016lx (fnv1a64 over %u sites)\n", wedge::sites_digest(g_sites, text),
          g_sites.count());
    return c.failed == 0;
}

} // namespace lw
