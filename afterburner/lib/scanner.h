// `afterburn scan`: accounts for every sensitive instruction in an ELF image and checks
// every annotation record against the bytes it describes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "afterburn/gated_class.h"
#include "afterburn/site_kind.h"
#include "elf_image.h"

namespace afterburn {

struct class_counts {
    unsigned total = 0, annotated = 0, explained = 0, unexplained = 0;
};

struct scan_finding {
    uint64_t addr = 0;
    site_kind kind = site_kind::none;
    gated_class gated = gated_class::count;  // set instead of kind for a CPUID-gated class
    std::string where;  // symbol+offset
    std::string text;   // disassembly
    std::string reason; // why explained / why bad
};

struct scan_report {
    std::string image;
    std::array<class_counts, site_kind_count> classes{};
    std::array<class_counts, gated_class_count> gated{};  // never annotated: explained or not
    class_counts all;
    unsigned tables = 0, records = 0, regions = 0, bad_records = 0;
    unsigned decoder_checked = 0;                       // sites the wedge's decoder re-decoded
    std::vector<std::string> decoder_disagreements;     // where it differs from LLVM
    std::vector<scan_finding> unexplained;
    std::vector<std::string> bad;                       // one message per bad record / table
    std::map<std::string, unsigned> explained_reasons;  // reason -> count

    bool clean() const { return all.unexplained == 0 && bad_records == 0 && decoder_disagreements.empty(); }
};

scan_report scan_image(const elf_image &img);

// Adds one image's report to a running total (`afterburn scan` of several files); the
// findings keep their image's name.
void add_to_total(scan_report &total, const scan_report &one);

// The class name of a finding, whichever table it comes from.
const char *finding_class(const scan_finding &f);

std::string format_table(const scan_report &r, unsigned max_listed);
std::string format_json(const scan_report &r);

} // namespace afterburn
