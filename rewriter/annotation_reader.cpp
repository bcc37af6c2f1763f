#include "afterburn/annotation_reader.h"

namespace afterburn::annotation {

const char *table_error_text(table_error e)
{
    switch (e) {
    case table_error::ok: return "ok";
    case table_error::truncated_note: return "note header, name or descriptor runs past the section";
    case table_error::truncated_header: return "Afterburn note too short for its table header";
    case table_error::bad_version: return "unknown annotation format version";
    case table_error::bad_record_size: return "record size smaller than a site record or not a multiple of 4";
    case table_error::ragged_table: return "descriptor is not a whole number of records";
    case table_error::reserved_nonzero: return "table header's reserved field is not zero";
    }
    return "unknown error";
}

} // namespace afterburn::annotation
