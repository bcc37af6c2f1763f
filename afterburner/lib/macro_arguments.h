// Sensitive instructions passed to an assembler macro as an argument, e.g.
//     ALTERNATIVE "", "clac", X86_FEATURE_SMAP
// expand from a body line that is only `\newinstr`. Padding that body line would pad every
// use of the macro, whatever instruction it was given; so these sites are annotated inside
// the argument at each invocation instead.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "asm_text.h"

namespace afterburn {

struct macro_definition {
    std::string name;
    std::vector<std::string> params;
    unsigned first_line = 0;  // the .macro line
    unsigned last_line = 0;   // the .endm line
    std::set<std::string> varargs;        // params declared `name:vararg`
    std::set<std::string> spliced;        // params used as a whole body line
    std::set<unsigned> spliced_lines;     // those body lines
};

std::vector<macro_definition> find_macros(std::string_view text, const std::vector<asm_line> &lines);

// A replacement of an argument's text at an invocation.
struct argument_edit {
    size_t begin = 0, end = 0;
    std::string replacement;
    unsigned sites = 0;
};

// Annotates the sensitive statements inside spliced arguments of every invocation.
// Problems (an argument that cannot be classified) are appended to warnings.
std::vector<argument_edit> annotate_macro_arguments(std::string_view text, const std::vector<asm_line> &lines,
                                                    const std::vector<macro_definition> &macros,
                                                    std::vector<std::string> &warnings);

} // namespace afterburn
