// GNU assembler source split into lines and statements (';'-separated), tracking strings
// and comments the way gas does, so statements can be addressed as (line, index).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace afterburn {

struct asm_statement {
    size_t begin = 0;  // first non-blank character
    size_t end = 0;    // one past the last non-blank character before ';', '#' or newline
};

struct asm_line {
    size_t begin = 0;
    size_t end = 0;  // the newline (or end of text)
    std::vector<asm_statement> statements;
};

// Lines are numbered from 1: lines[0] is line 1.
std::vector<asm_line> split_statements(std::string_view text);

// The copy of the source LLVM parses: every statement is preceded by
// ".loc <origin_file> <line> <index>;" so the parser reports which source statement, or
// which line of a macro body, each instruction came from. Line numbers are unchanged.
// The source's own numbered .file and .loc directives (debug info) are blanked in this copy.
inline constexpr unsigned origin_file = 1;

// The most repetitions one `.rept` may ask for. LLVM MC expands a .rept into text before
// parsing it, so `.rept 1<<40` would grow without end (GNU as fails at once with "out of
// memory", naming no line). Larger counts are refused with FILE:LINE by afterburn-as.
inline constexpr unsigned long max_rept_count = 1ul << 16;
// Diagnostics that start with this come from afterburn-as's own limits, not from a parse error.
inline constexpr char limit_diagnostic_prefix[] = "afterburn-as limit: ";
std::string instrument_for_origins(std::string_view text, const std::vector<asm_line> &lines);

} // namespace afterburn
