// Finds, with LLVM MC, which source statements of a GNU assembly file produce sensitive
// instructions — including inside .macro/.rept/.irp bodies and `.byte`-encoded
// instructions — and where 16/32-bit code regions begin and end.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "afterburn/site_kind.h"
#include "asm_text.h"

namespace afterburn {

// A statement of the source: line number (from 1) and ';'-index on that line.
struct origin {
    unsigned line = 0;
    unsigned index = 0;
    auto operator<=>(const origin &) const = default;
};

// One source statement that emits a sensitive instruction (once, or once per expansion).
struct found_site {
    origin start;               // where the site begins (a prefix statement, if any)
    origin end;                 // the statement that emits the instruction
    site_kind kind = site_kind::none;  // first kind seen (expansions may differ)
    unsigned pad = 0;           // padding in front (pad_before only; gas sizes the rest)
    bool in_replacement = false;
    bool pad_before = false;    // interrupt-shadow instruction: NOP padding goes in front
    // Padded with CS prefixes in front of the instruction (one instruction natively), not
    // NOPs: true when every expansion of the statement is an instruction of a kind that
    // takes them, without a segment override of its own (docs/annotation-format.md,
    // "Padding sizes"). Then pad_before does not apply: nothing comes between the
    // instruction and the next one either way.
    bool prefixes = true;
};

// A run of 16- or 32-bit code inside a 64-bit file (.code16/.code32).
struct found_region {
    origin opened_by;           // statement after which the region starts
    origin closed_by;           // statement before which it ends (line 0: end of file)
    bool bits16 = false;
    unsigned sensitive = 0;     // sensitive instructions inside, reported, not annotated
};

struct site_scan {
    std::map<origin, found_site> sites;  // keyed by `end`
    std::vector<found_region> regions;
    unsigned sensitive_in_narrow_code = 0;  // in .code16/.code32 regions
    std::vector<std::string> errors;      // "LINE: message", parse errors
    std::vector<std::string> limits;      // "FILE:LINE: message": input beyond afterburn-as's limits
    std::vector<std::string> conflicts;   // statements that cannot be padded one way for all expansions
    std::vector<std::string> warnings;
};

// Parses text as 64-bit (or, with bits32 set, 32-bit: then nothing is annotated and the
// sensitive instructions are only counted). file_name is used in messages.
struct find_options {
    bool bits32 = false;               // --32: count only, annotate nothing
    std::set<unsigned> skip_lines;     // macro body lines that splice in an argument: those
                                       // sites are annotated in the argument (macro_arguments.h)
    std::set<unsigned> macro_lines;    // lines inside .macro definitions
    std::vector<std::string> include_dirs;  // -I directories, for .include and .incbin
    // Page-table markers of the compiler pass (page_table_markers.h), by line: the next
    // instruction after each becomes a site of that kind.
    std::map<unsigned, site_kind> page_table_markers;
};

// Statements LLVM MC may parse for one file, counting every repetition and expansion: nested
// .rept/.irp/.macro expansions that go beyond it are refused (limits) instead of running for
// hours.
inline constexpr unsigned long max_parsed_statements = 1ul << 20;

site_scan find_sites(std::string_view text, const std::vector<asm_line> &lines, std::string_view file_name,
                     const find_options &options = {});

} // namespace afterburn
