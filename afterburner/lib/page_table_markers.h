// The compiler pass (afterburner/gcc-plugin) marks each page-table access in the assembly it
// emits with a comment line, "#afterburn_page_table store" or "... load", placed right before
// the instruction that performs the access. afterburn-as pads and records that instruction.
#pragma once

#include <map>
#include <string_view>
#include <vector>

#include "afterburn/site_kind.h"
#include "asm_text.h"

namespace afterburn {

inline constexpr std::string_view page_table_marker = "#afterburn_page_table";

// Marker lines (numbered from 1) and the kind each one asks for. A marker line with another
// word than store/load is returned with kind none, for the caller to refuse.
std::map<unsigned, site_kind> find_page_table_markers(std::string_view text, const std::vector<asm_line> &lines);

} // namespace afterburn
