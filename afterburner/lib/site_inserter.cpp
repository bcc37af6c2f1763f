#include "site_inserter.h"

#include <algorithm>

#include "afterburn/annotation.h"
#include "macro_arguments.h"

namespace afterburn {

namespace {

struct insertion {
    size_t at;
    int order;  // among insertions at the same offset: region ends, then site starts, then the rest
    std::string text;
    size_t replaces = 0;  // bytes of the original text this insertion replaces
};

std::string record_text(unsigned kind, unsigned flags)
{
    // site, kind, insn_len, pad_len, flags; operands are filled in from the assembled bytes.
    return std::string("; .pushsection ") + annotation::section_name + ", 1; .long " + label_site_begin +
           "b - .; .byte " + std::to_string(kind) + ", " + label_site_end + "b - " + label_site_begin + "b, " +
           label_pad_end + "b - " + label_site_end + "b, " + std::to_string(flags) +
           "; .byte 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0; .long 0; .popsection";
}

} // namespace

std::string insert_annotations(std::string_view text, const std::vector<asm_line> &lines, const site_scan &scan,
                               std::string_view display_name, bool with_header,
                               const std::vector<argument_edit> &edits)
{
    auto stmt = [&](const origin &o) -> const asm_statement & {
        return lines.at(o.line - 1).statements.at(o.index);
    };
    std::vector<insertion> ins;
    for (const auto &[key, s] : scan.sites) {
        unsigned flags = s.in_replacement ? annotation::flag_replacement : 0;
        if (s.pad_before) {
            // Padding, then the instruction: nothing may come between an interrupt-shadow
            // instruction and the one it protects. Its length is fixed, so LLVM's count is gas's.
            flags |= annotation::flag_pad_before;
            ins.push_back({stmt(s.start).begin, 1,
                           std::string(label_site_begin) + ": .nops " + std::to_string(s.pad) + "; " +
                               label_site_end + ": "});
            std::string after = std::string("; ") + label_pad_end + ":; .pushsection " + annotation::section_name +
                                ", 1; .long " + label_site_end + "b - .; .byte " +
                                std::to_string(static_cast<unsigned>(s.kind)) + ", " + label_pad_end + "b - " +
                                label_site_end + "b, " + label_site_end + "b - " + label_site_begin + "b, " +
                                std::to_string(flags) +
                                "; .byte 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0; .long 0; .popsection";
            ins.push_back({stmt(s.end).end, 2, after});
            continue;
        }
        ins.push_back({stmt(s.start).begin, 1, std::string(label_site_begin) + ": "});
        // gas sizes the padding from the bytes it really emitted, in every expansion.
        std::string want = std::to_string(site_kind_min_size(s.kind));
        std::string len = std::string("(") + label_site_end + "b - " + label_site_begin + "b)";
        std::string after = std::string("; ") + label_site_end + ": .nops -((" + want + " - " + len + ") > 0) * (" +
                            want + " - " + len + "); " + label_pad_end + ":";
        after += record_text(static_cast<unsigned>(s.kind), flags);
        ins.push_back({stmt(s.end).end, 2, after});
    }
    for (const auto &r : scan.regions) {
        ins.push_back({stmt(r.opened_by).end, 3, std::string("; ") + label_region_begin + ":"});
        unsigned kind = static_cast<unsigned>(r.bits16 ? site_kind::code16_region : site_kind::code32_region);
        std::string end = std::string(label_region_end) + ": .pushsection " + annotation::section_name +
                          ", 1; .long " + label_region_begin + "b - .; .byte " + std::to_string(kind) +
                          ", 0, 0, 0; .byte 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0; .long " + label_region_end +
                          "b - " + label_region_begin + "b; .popsection";
        if (r.closed_by.line == 0) ins.push_back({text.size(), 9, "\n" + end + "\n"});
        else ins.push_back({stmt(r.closed_by).begin, 0, end + "; "});
    }
    for (const auto &e : edits) ins.push_back({e.begin, 5, e.replacement, e.end - e.begin});
    std::stable_sort(ins.begin(), ins.end(), [](const insertion &a, const insertion &b) {
        return a.at != b.at ? a.at < b.at : a.order < b.order;
    });

    std::string out;
    out.reserve(text.size() + ins.size() * 200 + 512);
    if (!with_header) {
        size_t copied = 0;
        for (const auto &i : ins) {
            out.append(text.substr(copied, i.at - copied));
            out += i.text;
            copied = i.at + i.replaces;
        }
        out.append(text.substr(copied));
        return out;
    }
    // Header of this object's note; its descriptor ends at a label emitted last (subsection 2),
    // so the records (subsection 1) from anywhere in the file fall in between.
    out += std::string("\t.pushsection ") + annotation::section_name +
           ", 0, \"a\", @note; .balign 4; .long 10, .Lafterburn_desc_end - .Lafterburn_desc_begin, " +
           std::to_string(annotation::note_type_sites) +
           "; .asciz \"Afterburn\"; .balign 4; .Lafterburn_desc_begin: .short " +
           std::to_string(annotation::format_version) + ", " + std::to_string(sizeof(annotation::site_record)) +
           "; .long 0; .popsection\n";
    out += "# 1 \"" + std::string(display_name) + "\"\n";
    size_t copied = 0;
    for (const auto &i : ins) {
        out.append(text.substr(copied, i.at - copied));
        out += i.text;
        copied = i.at + i.replaces;
    }
    out.append(text.substr(copied));
    out += std::string("\n\t.pushsection ") + annotation::section_name + ", 2; .Lafterburn_desc_end: .popsection\n";
    return out;
}

} // namespace afterburn
