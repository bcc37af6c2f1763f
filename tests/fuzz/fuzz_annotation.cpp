// libFuzzer: the annotation reader (walk_tables) and the one record check on any notes block.
// Invariants: no crash, no read outside the block, every table lies inside the block, and
// check_record is a pure function (same answer twice, an answer for every record).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "afterburn/annotation_reader.h"
#include "afterburn/record_check.h"

using namespace afterburn::annotation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // An exact-size heap copy, 4-byte aligned like a note section: ASan sees any overrun.
    std::vector<uint32_t> words((size + 3) / 4);
    auto *block = reinterpret_cast<uint8_t *>(words.data());
    if (size) std::memcpy(block, data, size);
    uint32_t records = 0;
    auto r = walk_tables(block, block + size, [&](const table_view &t) {
        const uint8_t *first = reinterpret_cast<const uint8_t *>(t.records);
        if (first < block || t.offset + static_cast<size_t>(t.count) * t.record_size > size) std::abort();
        for (uint32_t i = 0; i < t.count; ++i) {
            site_record rec;
            std::memcpy(&rec, &table_record(t, i), sizeof rec);
            record_error e = check_record(rec);
            if (e != check_record(rec) || !record_error_text(e)) std::abort();
            (void)check_placement(rec, i & 1);
            records++;
        }
    });
    if (r.records != records || !table_error_text(r.error)) std::abort();
    if (r.error != table_error::ok && r.error_offset >= size) std::abort();
    return 0;
}
