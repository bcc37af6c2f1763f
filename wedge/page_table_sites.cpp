#include "wedge/page_table_sites.h"

#include "afterburn/site_kind.h"

namespace afterburn::wedge {

page_table_site_counts describe_page_table_sites(site_table &t, site_bytes &mem, const block_functions &fns,
                                                 page_table_refusal &refusal)
{
    page_table_site_counts c;
    refusal = {};
    for (uint32_t i = 0; i < t.count(); ++i) {
        site &s = t[i];
        auto kind = static_cast<site_kind>(s.rec.kind);
        if (!site_kind_is_page_table(kind)) continue;
        const uint8_t *bytes = mem.span(s.insn, s.rec.insn_len);
        const char *why = bytes ? describe_page_table_site(s.rec, bytes, s.insn, fns, s.pt)
                                : "page-table site: not inside the image's bytes";
        if (why) {
            refusal = {&s, why};
            return c;
        }
        ++(kind == site_kind::page_table_store ? c.stores : c.loads);
        if (s.rec.special < 3) ++c.by_form[s.rec.special];
    }
    return c;
}

} // namespace afterburn::wedge
