// Completes the annotation records of an object GNU as has just written: each record's
// kind and decoded operands come from the instruction bytes at its site, so they describe
// what was really assembled (macro expansions included).
#pragma once

#include <string>
#include <vector>

namespace afterburn {

struct object_annotation_result {
    bool ok = false;
    unsigned sites = 0;        // instruction records completed
    unsigned not_sensitive = 0; // padded statements whose expansion was not sensitive here
    unsigned regions = 0;
    unsigned pad_bytes = 0;
    unsigned page_table = 0;   // of `sites`: page-table accesses marked by the compiler pass
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
};

object_annotation_result annotate_object(const std::string &object_path);

} // namespace afterburn
