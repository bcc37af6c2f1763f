#include "annotation_tables.h"

#include <cstring>

#include "afterburn/annotation_reader.h"

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

} // namespace afterburn
