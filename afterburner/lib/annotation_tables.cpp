#include "annotation_tables.h"

#include <cstdio>
#include <cstring>

#include "afterburn/annotation_reader.h"
#include "afterburn/record_check.h"

namespace afterburn {

annotation_tables read_annotation_tables(const elf_image &img)
{
    annotation_tables out;
    for (const auto &sec : img.sections()) {
        if (sec.type != 7 /* SHT_NOTE */ || sec.data.empty()) continue;
        const uint8_t *begin = sec.data.data();
        auto result = annotation::walk_tables(begin, begin + sec.data.size(), [&](const annotation::table_view &t) {
            for (uint32_t i = 0; i < t.count; ++i) {
                located_record lr;
                uint64_t off = t.offset + static_cast<uint64_t>(i) * t.record_size;
                std::memcpy(&lr.record, begin + off, sizeof lr.record);
                lr.note = &sec;
                lr.note_offset = off;
                lr.record_addr = sec.addr + off;
                lr.site = lr.record_addr + static_cast<int64_t>(lr.record.site);
                out.records.push_back(lr);
            }
        });
        out.tables += result.tables;
        if (result.error != annotation::table_error::ok) {
            char where[64];
            std::snprintf(where, sizeof where, "+0x%zx", result.error_offset);
            out.errors.push_back(sec.name + where + ": " + annotation::table_error_text(result.error));
        }
    }
    return out;
}

std::string record_name(const elf_image &img, const located_record &lr)
{
    char off[32];
    std::snprintf(off, sizeof off, "+0x%llx", static_cast<unsigned long long>(lr.note_offset));
    return "record " + lr.note->name + off + " (site " + img.describe(lr.site) + ")";
}

std::string record_problem(const elf_image &img, const located_record &lr)
{
    auto e = annotation::check_record(lr.record);
    if (e != annotation::record_error::ok) {
        std::string text = annotation::record_error_text(e);
        if (e == annotation::record_error::unknown_kind) text += " " + std::to_string(lr.record.kind);
        return text;
    }
    if (const elf_section *sec = img.section_at(lr.site)) {
        auto p = annotation::check_placement(lr.record, sec->name == ".altinstr_replacement");
        if (p != annotation::placement_error::ok) return annotation::placement_error_text(p);
    }
    return {};
}

} // namespace afterburn
