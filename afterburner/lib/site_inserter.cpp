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

std::string label_diff(const char *to, const char *from)
{
    return std::string(to) + "b - " + from + "b";
}

// One record in subsection 1 of the note. Operand bytes are placeholders: afterburn-as fills
// them in from the assembled instruction (object_annotator.cpp).
std::string record_text(const char *site_label, unsigned kind, const std::string &insn_len,
                        const std::string &pad_len, unsigned flags, const std::string &imm = "0")
{
    return std::string(".pushsection ") + annotation::section_name + ", 1; .long " + site_label + "b - .; .byte " +
           std::to_string(kind) + ", " + insn_len + ", " + pad_len + ", " + std::to_string(flags) +
           "; .byte 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0; .long " + imm + "; .popsection";
}

// Past the labels a statement starts with ("1: rdmsr", "native_irq_return_iret: iretq"):
// padding prefixes go after them, so that those labels name the whole prefixed instruction, as
// an exception-table entry (the faulting RIP is the first prefix) or a branch needs.
size_t after_labels(std::string_view text, const asm_statement &st)
{
    auto name_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '$';
    };
    size_t p = st.begin;
    for (;;) {
        size_t q = p;
        while (q < st.end && name_char(text[q])) ++q;
        if (q == p || q >= st.end || text[q] != ':') return p;
        for (++q; q < st.end && (text[q] == ' ' || text[q] == '\t'); ++q) {
        }
        p = q;
    }
}

// Site labels: [begin, end) is the instruction, then [end, pad_end) its NOP padding; with the
// padding in front (NOPs or prefixes), [begin, end) is the padding and [end, pad_end) the
// instruction.
void add_site(std::vector<insertion> &ins, std::string_view text, const found_site &s, const asm_statement &start,
              const asm_statement &end)
{
    unsigned flags = s.in_replacement ? annotation::flag_replacement : 0;
    auto kind = static_cast<unsigned>(s.kind);
    std::string want = std::to_string(site_kind_min_size(s.kind));
    if (s.prefixes) {
        // [begin, end) the padding prefixes, [end, pad_end) the instruction: one instruction
        // natively. gas sizes the prefixes from the instruction it emits after them (a forward
        // reference it resolves while laying out the section), and emits none when the
        // statement emits nothing in this expansion: prefixes must never reach the next one.
        std::string len = "(" + std::string(label_pad_end) + "f - " + label_site_end + "f)";
        ins.push_back({after_labels(text, start), 1,
                       std::string(label_site_begin) + ": .space ((" + len + " > 0) * ((" + want + " - " + len +
                           ") > 0)) * (" + want + " - " + len + "), " + std::to_string(annotation::padding_prefix) +
                           "; " + label_site_end + ": "});
        ins.push_back({end.end, 2,
                       std::string("; ") + label_pad_end + ":; " +
                           record_text(label_site_begin, kind, label_diff(label_pad_end, label_site_begin), "0",
                                       flags)});
        return;
    }
    if (s.pad_before) {
        // Nothing may come between an interrupt-shadow instruction and the one it protects.
        flags |= annotation::flag_pad_before;
        ins.push_back({start.begin, 1,
                       std::string(label_site_begin) + ": .nops " + std::to_string(s.pad) + "; " + label_site_end +
                           ": "});
        ins.push_back({end.end, 2,
                       std::string("; ") + label_pad_end + ":; " +
                           record_text(label_site_end, kind, label_diff(label_pad_end, label_site_end),
                                       label_diff(label_site_end, label_site_begin), flags)});
        return;
    }
    ins.push_back({start.begin, 1, std::string(label_site_begin) + ": "});
    // gas sizes the padding from the bytes it really emitted, in every expansion.
    std::string len = "(" + label_diff(label_site_end, label_site_begin) + ")";
    ins.push_back({end.end, 2,
                   std::string("; ") + label_site_end + ": .nops -((" + want + " - " + len + ") > 0) * (" + want +
                       " - " + len + "); " + label_pad_end + ":; " +
                       record_text(label_site_begin, kind, label_diff(label_site_end, label_site_begin),
                                   label_diff(label_pad_end, label_site_end), flags)});
}

void add_region(std::vector<insertion> &ins, const found_region &r, const asm_statement *opened,
                const asm_statement *closed, size_t text_end)
{
    ins.push_back({opened->end, 3, std::string("; ") + label_region_begin + ":"});
    auto kind = static_cast<unsigned>(r.bits16 ? site_kind::code16_region : site_kind::code32_region);
    std::string end = std::string(label_region_end) + ": " +
                      record_text(label_region_begin, kind, "0", "0", 0,
                                  label_diff(label_region_end, label_region_begin));
    if (closed) ins.push_back({closed->begin, 0, end + "; "});
    else ins.push_back({text_end, 9, "\n" + end + "\n"});
}

} // namespace

std::string insert_annotations(std::string_view text, const std::vector<asm_line> &lines, const site_scan &scan,
                               std::string_view display_name, bool with_header,
                               const std::vector<argument_edit> &edits)
{
    auto stmt = [&](const origin &o) -> const asm_statement & {
        return lines.at(o.line - 1).statements.at(o.index);
    };
    // `.end` stops GNU as: everything we append (the region close, the note's end label)
    // must come before it, or the note refers to a label that was never assembled.
    size_t input_end = text.size();
    for (const auto &line : lines)
        for (const auto &st : line.statements) {
            std::string_view s = text.substr(st.begin, st.end - st.begin);
            if (input_end == text.size() && s.substr(0, 4) == ".end" &&
                (s.size() == 4 || s[4] == ' ' || s[4] == '\t'))
                input_end = st.begin;
        }
    std::vector<insertion> ins;
    for (const auto &[key, s] : scan.sites) add_site(ins, text, s, stmt(s.start), stmt(s.end));
    for (const auto &r : scan.regions)
        add_region(ins, r, &stmt(r.opened_by), r.closed_by.line ? &stmt(r.closed_by) : nullptr, input_end);
    for (const auto &e : edits) ins.push_back({e.begin, 5, e.replacement, e.end - e.begin});
    std::stable_sort(ins.begin(), ins.end(), [](const insertion &a, const insertion &b) {
        return a.at != b.at ? a.at < b.at : a.order < b.order;
    });

    std::string out;
    out.reserve(text.size() + ins.size() * 200 + 512);
    if (with_header) {
        // Header of this object's note; its descriptor ends at a label emitted last
        // (subsection 2), so the records (subsection 1) from anywhere in the file fall between.
        out += std::string("\t.pushsection ") + annotation::section_name +
               ", 0, \"a\", @note; .balign 4; .long 10, .Lafterburn_desc_end - .Lafterburn_desc_begin, " +
               std::to_string(annotation::note_type_sites) +
               "; .asciz \"Afterburn\"; .balign 4; .Lafterburn_desc_begin: .short " +
               std::to_string(annotation::format_version) + ", " + std::to_string(sizeof(annotation::site_record)) +
               "; .long 0; .popsection\n";
        out += "# 1 \"" + std::string(display_name) + "\"\n";
    }
    size_t copied = 0;
    for (const auto &i : ins) {
        out.append(text.substr(copied, i.at - copied));
        out += i.text;
        copied = i.at + i.replaces;
    }
    std::string trailer = with_header ? std::string("\n\t.pushsection ") + annotation::section_name +
                                            ", 2; .Lafterburn_desc_end: .popsection\n"
                                      : std::string();
    if (input_end < text.size() && copied <= input_end) {
        out.append(text.substr(copied, input_end - copied));
        out += trailer;
        out.append(text.substr(input_end));
    } else {
        out.append(text.substr(copied));
        out += trailer;
    }
    return out;
}

} // namespace afterburn
