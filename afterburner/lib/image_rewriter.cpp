#include "image_rewriter.h"

#include "afterburn/wedge_abi.h"
#include "annotation_tables.h"

namespace afterburn {

rewriter::plan default_plan()
{
    rewriter::plan p;
    for (unsigned k = 0; k < site_kind_count; ++k) {
        auto kind = static_cast<site_kind>(k);
        if (!site_kind_is_instruction(kind)) continue;
        p.kinds[k] = {rewriter::strategy::call, wedge_abi::entry(kind), wedge_abi::slot(kind), 0};
    }
    p.kinds[static_cast<unsigned>(site_kind::cli)] = {rewriter::strategy::inline_store, wedge_abi::vcpu_virtual_if,
                                                      0, 0};
    return p;
}

bool plan_for_backend(const std::string &backend, rewriter::plan &out)
{
    // All three backends share the wedge's entry window today; a backend that handles a
    // kind differently (e.g. leaves it to trap) changes its row here.
    if (backend != "xen" && backend != "kvm" && backend != "l4") return false;
    out = default_plan();
    return true;
}

rewrite_report rewrite_image(const elf_image &img, std::vector<uint8_t> &file, const rewriter::plan &p)
{
    rewrite_report r;
    auto tables = read_annotation_tables(img);
    for (const auto &e : tables.errors) r.failures.push_back("annotation table " + e);
    for (const auto &lr : tables.records) {
        // The same validation as `afterburn scan`: a record it refuses is never rewritten
        // nor skipped silently.
        if (std::string problem = record_problem(img, lr); !problem.empty()) {
            r.failures.push_back(record_name(img, lr) + ": " + problem);
            continue;
        }
        auto kind = static_cast<site_kind>(lr.record.kind);
        if (!site_kind_is_instruction(kind)) continue;
        auto span = rewriter::span_of(lr.record, lr.site);
        const elf_section *sec = img.section_at(span.start);
        std::string where = record_name(img, lr);
        if (!sec || !sec->executable() || span.start + span.size > sec->addr + sec->size) {
            r.failures.push_back(where + ": site is not inside one executable section");
            continue;
        }
        uint64_t off = sec->file_offset + (span.start - sec->addr);
        if (off + span.size > file.size()) {
            r.failures.push_back(where + ": site lies outside the file");
            continue;
        }
        auto o = rewriter::rewrite_site(file.data() + off, span, lr.record, p);
        if (o == rewriter::outcome::rewritten) {
            r.rewritten++;
            r.by_kind[lr.record.kind]++;
        } else if (o == rewriter::outcome::left_alone) {
            r.left_alone++;
        } else {
            r.failures.push_back(where + " " + site_kind_name(kind) + ": " + rewriter::outcome_text(o));
        }
    }
    return r;
}

} // namespace afterburn
