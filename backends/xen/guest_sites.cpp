#include "guest_sites.h"

#include "afterburn/annotation_reader.h"
#include "console.h"
#include "page_table_sites.h"
#include "wedge/alternative_copies.h"
#include "wedge/boot/elf64.h"
#include "wedge/rewrite_plan.h"
#include "wedge/site_rewrite.h"

namespace xw {

namespace wedge = afterburn::wedge;
namespace ann = afterburn::annotation;
using afterburn::site_kind;

namespace {

// Storage apart from the table, so that it stays in .bss (zero) and out of the image file.
// Linux 6.1 has 3,585 sensitive sites, and 397 page-table sites more with pt-sites=wedge:
// 3,982. The storage is part of Xen's initial mapping of dom0, whatever it takes the shadow
// pool lacks: with 4,096 sites of 80 bytes Linux leaves 266 scratch pages (256 needed), and
// 6,144 sites (of 96 bytes, tried) left 200 and did not boot.
constexpr uint32_t max_sites = 4096;
constinit wedge::site g_site_storage[max_sites];
constinit wedge::site_table g_sites(g_site_storage, max_sites);
constinit wedge::site_copy g_copy_storage[4096];
constinit wedge::alternative_copies g_copies(g_copy_storage, 4096);

// The ring-3 snippets (.user and .user.* sections): their sites are not rewritten into calls
// (user mode cannot reach the entry window); the plan says which get an int3. And .head.text
// sections (code that runs at its physical alias): as the plan says for head code.
void mark_sections_by_name(const module_bytes &m, const wedge::rewrite_plan &plan) {
    struct shdr {
        uint32_t name, type;
        uint64_t flags, addr, offset, size;
        uint32_t link, info;
        uint64_t align, entsize;
    };
    static_assert(sizeof(shdr) == 64);
    const uint8_t *d = m.data;
    uint64_t shoff, shnum = 0, shstrndx = 0, shentsize = 0;
    __builtin_memcpy(&shoff, d + 0x28, 8);
    shentsize = d[0x3a] | d[0x3b] << 8;
    shnum = d[0x3c] | d[0x3d] << 8;
    shstrndx = d[0x3e] | d[0x3f] << 8;
    if (!shoff || shentsize != sizeof(shdr) || shoff + shnum * sizeof(shdr) > m.len || shstrndx >= shnum) return;
    shdr strtab;
    __builtin_memcpy(&strtab, d + shoff + shstrndx * sizeof(shdr), sizeof strtab);
    for (uint64_t i = 0; i < shnum; ++i) {
        shdr s;
        __builtin_memcpy(&s, d + shoff + i * sizeof(shdr), sizeof s);
        if (strtab.offset + s.name + 5 >= m.len) continue;
        const char *name = reinterpret_cast<const char *>(d + strtab.offset + s.name);
        if (!s.addr) continue;
        if (name[0] == '.' && name[1] == 'u' && name[2] == 's' && name[3] == 'e' && name[4] == 'r' &&
            (name[5] == 0 || name[5] == '.'))
            g_sites.mark_user_code(s.addr, s.addr + s.size);
        if (strtab.offset + s.name + 11 < m.len && __builtin_memcmp(name, ".head.text", 11) == 0)
            wedge::mark_head_code(g_sites, plan, s.addr, s.addr + s.size);
    }
}

bool collect_sites(const loaded_guest &g, const wedge::rewrite_plan &plan) {
    wedge::keep_planned_page_table_sites(g_sites, plan);
    for (unsigned n = 0; n < g.note_count; ++n) {
        const guest_notes &gn = g.notes[n];
        // The records are read from the module's copy of the note; their sites are relative to
        // where the note sits in *guest* memory. (guest_loader.cpp checked the notes' form.)
        wedge::note_refusal no;
        g_sites.add_notes(gn.bytes, gn.size, gn.vaddr, no);
        if (no.refused) {
            print("xen-wedge: guest: PT_NOTE %u at 0x%lx: record %u (kind %u, site 0x%lx): %s\n", n, gn.vaddr,
                  no.record, no.kind, no.site_addr, no.why);
            return false;
        }
    }
    wedge::site_conflict c;
    if (!g_sites.seal(c)) {
        print("xen-wedge: guest: sites overlap: [0x%lx, 0x%lx) and [0x%lx, 0x%lx)\n", c.first->start, c.first->end,
              c.second->start, c.second->end);
        return false;
    }
    return true;
}

// The guest's text through its own mapping of it (the boot tables map the link address; the
// shadow fills on the wedge's faults), inside the image only.
class guest_text final : public wedge::site_bytes {
public:
    explicit guest_text(const loaded_guest &g) : g_(g) {}
    uint8_t *span(uint64_t start, uint32_t size) override {
        if (start < g_.virt_lo || start + size > g_.virt_hi) return nullptr;
        return reinterpret_cast<uint8_t *>(start);
    }
    void cannot_rewrite(const wedge::site &s, afterburn::rewriter::outcome why) override {
        print("xen-wedge: guest: site 0x%lx (%s) not rewritten: %s\n", s.start,
              afterburn::site_kind_name(static_cast<site_kind>(s.rec.kind)), afterburn::rewriter::outcome_text(why));
    }

private:
    const loaded_guest &g_;
};

// Where Linux may copy the rewritten .altinstr_replacement sites (its .altinstructions):
// a call from such a copy is found there. No .altinstructions: nothing is copied.
bool collect_alternative_copies(const loaded_guest &g, guest_text &text) {
    namespace boot = afterburn::boot;
    boot::virt_range table, repl{};
    if (!g.elf || boot::sections_named(*g.elf, ".altinstructions", &table, 1) != 1) return true;
    boot::sections_named(*g.elf, ".altinstr_replacement", &repl, 1);
    const uint8_t *bytes = table.size <= 0xffffffffu ? text.span(table.vaddr, static_cast<uint32_t>(table.size)) : nullptr;
    if (!bytes) {
        print("xen-wedge: guest: .altinstructions [0x%lx, +0x%lx) is not inside the loaded image\n", table.vaddr,
              table.size);
        return false;
    }
    wedge::alternatives_result r =
        g_copies.collect(g_sites, bytes, table.size, table.vaddr, repl.vaddr, repl.vaddr + repl.size);
    if (!r.ok) {
        print("xen-wedge: guest: .altinstructions at 0x%lx: %s", table.vaddr, r.why);
        if (r.where) print(" (entry at 0x%lx)", r.where);
        print("\n");
        return false;
    }
    print("xen-wedge: guest: alternatives: %u entries (%u-byte layout), %u places Linux may copy a rewritten "
          "replacement site to (%u of them with an int3, resolved only in .altinstr_replacement)\n",
          r.entries, r.entry_size, r.copies, r.trapping);
    return true;
}

} // namespace

const wedge::site_table &guest_sites() { return g_sites; }

const wedge::alternative_copies &guest_alternative_copies() { return g_copies; }

namespace {
bool g_flag_sites_64 = true;
}

bool flag_sites_all_64_bit() { return g_flag_sites_64; }

bool prepare_sites(const loaded_guest &g) {
    const wedge::rewrite_plan plan = wedge::plan_for(wedge::backend_id::xen, page_table_sites_mode());
    if (!collect_sites(g, plan)) return false;
    mark_sections_by_name(g.module, plan);
    if (g.head_hi) wedge::mark_head_code(g_sites, plan, g.head_lo, g.head_hi);
    guest_text text(g);
    if (plan.page_table_calls && !describe_guest_page_table_sites(g, g_sites, text)) return false;
    wedge::rewrite_counts c = wedge::apply_plan(g_sites, plan, text);
    if (plan.page_table_calls && !check_page_table_rewrites(c)) return false;
    uint32_t narrow = 0;
    for (uint32_t i = 0; i < g_sites.count(); ++i) {
        const wedge::site &s = g_sites[i];
        auto k = static_cast<afterburn::site_kind>(s.rec.kind);
        if (s.rewritten && (k == afterburn::site_kind::pushf || k == afterburn::site_kind::popf) &&
            afterburn::annotation::operand_bits(s.rec.flags) == 16)
            ++narrow;
    }
    g_flag_sites_64 = narrow == 0;
    if (narrow) print("xen-wedge: guest: %u 16-bit pushf/popf sites: every pushf/popf goes through the core\n", narrow);
    print("xen-wedge: guest: %u sites: rewrote %u (%u cli as inline stores), %u int n left to trap, "
          "%u left in ring-3 code (%u of them trap with int3), %u outside the image, %u could not be rewritten\n",
          g_sites.count(), c.rewritten, c.inline_stores, c.by_plan, c.user, c.user_int3, c.outside, c.failed);
    if (g.head_hi)
        print("xen-wedge: guest: head code: %u sites as `call *slot`, %u too small for it trap with int3\n",
              [] {
                  uint32_t n = 0;
                  for (uint32_t i = 0; i < g_sites.count(); ++i)
                      n += g_sites[i].position_independent && g_sites[i].rewritten;
                  return n;
              }(),
              c.pic_int3);
    print("xen-wedge: guest: sites digest 0x%016lx (fnv1a64 over %u sites)\n", wedge::sites_digest(g_sites, text),
          g_sites.count());
    if (!collect_alternative_copies(g, text)) return false;
    if (!g_sites.count())
        print("xen-wedge: guest: no annotation records: every sensitive instruction that traps goes through "
              "the fallback\n");
    return c.rewritten > 0 || g_sites.count() == 0;
}

const wedge::site *find_kernel_int3_site(uint64_t link_insn) {
    const wedge::site *s = g_sites.find_by_insn(link_insn);
    if (!s || s->user_code) return nullptr;
    // An int3 the wedge placed: on a position-independent site too small for its call, or on
    // the instruction of a pad_before site (code that branches to the instruction itself).
    bool pad_before = s->rewritten && (s->rec.flags & afterburn::annotation::flag_pad_before);
    return s->trapping || pad_before ? s : nullptr;
}

const wedge::site *find_user_site(uint64_t insn, bool int3_only) {
    const wedge::site *s = g_sites.find_by_insn(insn);
    if (!s || !s->user_code || s->rewritten || (int3_only && !s->trapping)) return nullptr;
    return s;
}

} // namespace xw
