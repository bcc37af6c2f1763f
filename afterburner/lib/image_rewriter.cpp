#include "image_rewriter.h"

#include "annotation_tables.h"
#include "wedge/boot/linux_boot.h"
#include "wedge/page_table_sites.h"
#include "wedge/site_table.h"

namespace afterburn {

namespace {

// The file's bytes of a span inside one executable section.
class image_bytes final : public wedge::site_bytes {
public:
    image_bytes(const elf_image &img, std::vector<uint8_t> &file, std::vector<std::string> &failures)
        : img_(img), file_(file), failures_(failures)
    {
    }
    uint8_t *span(uint64_t start, uint32_t size) override
    {
        const elf_section *sec = img_.section_at(start);
        const char *why = nullptr;
        if (!sec || !sec->executable() || start + size > sec->addr + sec->size)
            why = "site is not inside one executable section";
        else if (sec->file_offset + (start - sec->addr) + size > file_.size())
            why = "site lies outside the file";
        if (!why) return file_.data() + sec->file_offset + (start - sec->addr);
        if (reporting_) failures_.push_back(img_.describe(start) + ": " + why);
        return nullptr;
    }
    void cannot_rewrite(const wedge::site &s, rewriter::outcome why) override
    {
        failures_.push_back(img_.describe(s.insn) + " (" + site_kind_name(static_cast<site_kind>(s.rec.kind)) +
                            "): " + rewriter::outcome_text(why));
    }
    bool reporting_ = true;

private:
    const elf_image &img_;
    std::vector<uint8_t> &file_;
    std::vector<std::string> &failures_;
};

bool is_user_section(const std::string &name)
{
    return name == ".user" || name.rfind(".user.", 0) == 0;
}

} // namespace

rewrite_report rewrite_image(const elf_image &img, std::vector<uint8_t> &file, const wedge::rewrite_plan &p)
{
    rewrite_report r;
    auto tables = read_annotation_tables(img);
    for (const auto &e : tables.errors) r.failures.push_back("annotation table " + e);
    std::vector<wedge::site> storage(tables.records.size());
    wedge::site_table t(storage.data(), static_cast<uint32_t>(storage.size()));
    wedge::keep_planned_page_table_sites(t, p);
    for (const auto &lr : tables.records) {
        // The same validation as `afterburn scan`: a record it refuses is never rewritten
        // nor skipped silently.
        if (std::string problem = record_problem(img, lr); !problem.empty()) {
            r.failures.push_back(record_name(img, lr) + ": " + problem);
            continue;
        }
        wedge::admit_result a = t.add(lr.record, lr.site);
        if (a.what == wedge::admission::refused || a.what == wedge::admission::full)
            r.failures.push_back(record_name(img, lr) + ": " + a.why);
    }
    wedge::site_conflict c;
    if (!t.seal(c)) {
        r.failures.push_back(img.describe(c.second->start) + ": overlaps the site at " + img.describe(c.first->start));
        return r;
    }
    // The guest's ring-3 code and its head code, as the wedges find them: .user* and .head.text
    // sections, and Linux's head code by its symbols (boot::linux_head_code), read by the
    // wedges' own ELF reader.
    for (const auto &sec : img.sections()) {
        if (!sec.addr) continue;
        if (is_user_section(sec.name)) t.mark_user_code(sec.addr, sec.addr + sec.size);
        if (sec.name == ".head.text") wedge::mark_head_code(t, p, sec.addr, sec.addr + sec.size);
    }
    boot::elf64_image guest{};
    boot::status st;
    uint64_t head_lo = 0, head_hi = 0;
    bool parsed = boot::parse_elf64(file.data(), file.size(), "image", true, guest, st) ||
                  boot::parse_elf64(file.data(), file.size(), "image", false, guest, st);
    if (parsed && boot::linux_head_code(guest, head_lo, head_hi)) wedge::mark_head_code(t, p, head_lo, head_hi);
    image_bytes bytes(img, file, r.failures);
    if (p.page_table_calls) {
        // As the Xen wedge does (backends/xen/page_table_sites.cpp): every page-table site
        // described, or the image refused at the first one the wedge could not perform.
        wedge::block_functions fns;
        if (parsed) {
            boot::symbol_value(guest, "memcpy", fns.memcpy);
            boot::symbol_value(guest, "memmove", fns.memmove);
            boot::symbol_value(guest, "memset", fns.memset);
        }
        wedge::page_table_refusal no;
        wedge::describe_page_table_sites(t, bytes, fns, no);
        if (no.where) {
            r.failures.push_back(img.describe(no.where->insn) + " (" +
                                 site_kind_name(static_cast<site_kind>(no.where->rec.kind)) + "): " + no.why);
            return r;
        }
    }
    r.counts = wedge::apply_plan(t, p, bytes);
    bytes.reporting_ = false;
    r.sites = t.count();
    r.digest = wedge::sites_digest(t, bytes);
    return r;
}

} // namespace afterburn
