// Produces the text GNU as assembles: the original source with, after each sensitive
// statement, NOP padding and an annotation record, and around 16/32-bit code, region
// records. Every insertion stays on its source line, so gas's line numbers still match.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "asm_text.h"
#include "site_finder.h"

namespace afterburn {

// Local numeric labels afterburn reserves in annotated sources.
inline constexpr const char *label_site_begin = "1847561";
inline constexpr const char *label_site_end = "1847562";
inline constexpr const char *label_pad_end = "1847563";
inline constexpr const char *label_region_begin = "1847564";
inline constexpr const char *label_region_end = "1847565";

struct argument_edit;

// display_name is what gas's messages should call the file (a `# 1 "name"` marker).
// with_header=false leaves out the note header (for text spliced into a macro argument).
// edits replace macro-argument text (see macro_arguments.h).
std::string insert_annotations(std::string_view text, const std::vector<asm_line> &lines, const site_scan &scan,
                               std::string_view display_name, bool with_header = true,
                               const std::vector<argument_edit> &edits = {});

} // namespace afterburn
