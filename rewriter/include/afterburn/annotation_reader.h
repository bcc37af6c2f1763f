// Walks the Afterburn notes in a block of ELF notes and hands out their site tables.
// Freestanding: used in the wedge (on the loaded guest image) and by the host tools.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "annotation.h"

namespace afterburn::annotation {

enum class table_error : uint8_t {
    ok,
    truncated_note,      // a note header or its name/descriptor runs past the block
    truncated_header,    // an Afterburn descriptor shorter than table_header
    bad_version,         // table_header.version is not one we understand
    bad_record_size,     // record_size smaller than site_record
    ragged_table,        // descriptor is not header + a whole number of records
    reserved_nonzero,    // table_header.reserved is not zero
};

const char *table_error_text(table_error e);

// One Afterburn note's records, with where they sit in the walked block.
struct table_view {
    const site_record *records;
    uint32_t count;
    uint32_t record_size;
    size_t offset;  // byte offset of the first record from the start of the block
};

struct walk_result {
    table_error error = table_error::ok;
    size_t error_offset = 0;  // byte offset of the offending note in the block
    uint32_t tables = 0;
    uint32_t records = 0;
};

inline uint32_t align4(uint32_t v) { return (v + 3u) & ~3u; }

// Calls visit(const table_view&) for each Afterburn note in [begin, end). Other notes
// (build-id, Xen, PVH, ...) are skipped. Stops at the first malformed note. Checks the
// note and table headers only; each record is checked with check_record() (record_check.h).
template <class Visit>
walk_result walk_tables(const uint8_t *begin, const uint8_t *end, Visit &&visit)
{
    walk_result r;
    const uint8_t *p = begin;
    while (p < end) {
        size_t left = static_cast<size_t>(end - p);
        if (left < 12) {
            // Linkers may pad the notes section with zeros up to its alignment.
            bool zeros = true;
            for (const uint8_t *q = p; q < end; ++q) zeros = zeros && *q == 0;
            if (!zeros) { r.error = table_error::truncated_note; r.error_offset = p - begin; }
            return r;
        }
        uint32_t namesz, descsz, type;
        __builtin_memcpy(&namesz, p, 4);
        __builtin_memcpy(&descsz, p + 4, 4);
        __builtin_memcpy(&type, p + 8, 4);
        size_t total = 12 + static_cast<size_t>(align4(namesz)) + align4(descsz);
        if (namesz > left || descsz > left || total > left) {
            r.error = table_error::truncated_note;
            r.error_offset = p - begin;
            return r;
        }
        const uint8_t *name = p + 12;
        const uint8_t *desc = name + align4(namesz);
        bool ours = namesz == note_name_size && type == note_type_sites &&
                    __builtin_memcmp(name, note_name, note_name_size) == 0;
        if (ours) {
            if (descsz < sizeof(table_header)) {
                r.error = table_error::truncated_header;
                r.error_offset = p - begin;
                return r;
            }
            table_header h;
            __builtin_memcpy(&h, desc, sizeof h);
            table_error e = table_error::ok;
            if (h.version != format_version) e = table_error::bad_version;
            else if (h.record_size < sizeof(site_record) || h.record_size % 4) e = table_error::bad_record_size;
            else if ((descsz - sizeof h) % h.record_size) e = table_error::ragged_table;
            else if (h.reserved != 0) e = table_error::reserved_nonzero;
            if (e != table_error::ok) {
                r.error = e;
                r.error_offset = p - begin;
                return r;
            }
            table_view v;
            v.records = reinterpret_cast<const site_record *>(desc + sizeof h);
            v.count = static_cast<uint32_t>((descsz - sizeof h) / h.record_size);
            v.record_size = h.record_size;
            v.offset = static_cast<size_t>(desc + sizeof h - begin);
            r.tables++;
            r.records += v.count;
            visit(v);
        }
        p += total;
    }
    return r;
}

// The i-th record of a table (record_size may be larger than what we know).
inline const site_record &table_record(const table_view &t, uint32_t i)
{
    return *reinterpret_cast<const site_record *>(reinterpret_cast<const uint8_t *>(t.records) +
                                                  static_cast<size_t>(i) * t.record_size);
}

} // namespace afterburn::annotation
