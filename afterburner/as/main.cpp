// afterburn-as: the assembler pass. GCC runs it in place of `as` (through afterburn-cc);
// it finds every sensitive instruction with LLVM MC, pads it and records it in the
// object's annotation note, then has GNU as assemble the result with the original options.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <set>
#include <vector>

#include "asm_text.h"
#include "macro_arguments.h"
#include "object_annotator.h"
#include "page_table_markers.h"
#include "elf_image.h"
#include "process.h"
#include "scanner.h"
#include "site_finder.h"
#include "site_inserter.h"

using namespace afterburn;

namespace {

struct as_invocation {
    std::vector<std::string> options;  // everything but the input files
    std::vector<std::string> inputs;   // "-" for standard input
    std::string output = "a.out";
    bool bits32 = false;
    bool version_only = false;
};

// GNU as options whose value is the next argument.
bool takes_separate_value(const std::string &a)
{
    return a == "-o" || a == "-I" || a == "--defsym" || a == "-MD" || a == "--debug-prefix-map" ||
           a == "-march" || a == "-mtune";
}

as_invocation parse_arguments(int argc, char **argv)
{
    as_invocation inv;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-" || a.empty() || a[0] != '-') {
            inv.inputs.push_back(a);
            continue;
        }
        if (a == "--version" || a == "-v" || a == "--help") inv.version_only = true;
        if (a == "--32" || a == "-32" || a == "--x32") inv.bits32 = a != "--x32" ? true : inv.bits32;
        if (a == "--64") inv.bits32 = false;
        inv.options.push_back(a);
        if (takes_separate_value(a) && i + 1 < argc) {
            inv.options.push_back(argv[++i]);
            if (a == "-o") inv.output = argv[i];
        } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
            inv.output = a.substr(2);
        }
    }
    if (inv.inputs.empty()) inv.inputs.push_back("-");
    return inv;
}

bool read_inputs(const as_invocation &inv, std::string &text, std::string &display)
{
    for (const auto &in : inv.inputs) {
        if (in == "-") {
            text.append(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
            display = "{standard input}";
        } else {
            std::ifstream f(in, std::ios::binary);
            if (!f) {
                std::fprintf(stderr, "afterburn-as: cannot read %s\n", in.c_str());
                return false;
            }
            text.append(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
            display = in;
        }
        if (!text.empty() && text.back() != '\n') text += '\n';
    }
    return true;
}

std::string real_assembler()
{
    if (const char *env = std::getenv("AFTERBURN_REAL_AS"); env && *env) return env;
    std::string found = find_in_path("as", self_path());
    return found.empty() ? std::string("/usr/bin/as") : found;
}

// Runs GNU as on `text`, fed through standard input, with the original options.
int assemble(const as_invocation &inv, const std::string &text)
{
    std::vector<std::string> argv{real_assembler()};
    argv.insert(argv.end(), inv.options.begin(), inv.options.end());
    argv.push_back("-");
    return run_program(argv, &text);
}

// Runs GNU as exactly as it was asked to run, so its messages name the user's files.
int assemble_original(const as_invocation &inv, const std::string &text)
{
    bool from_stdin = false;
    for (const auto &in : inv.inputs) from_stdin = from_stdin || in == "-";
    if (from_stdin) return assemble(inv, text);
    std::vector<std::string> argv{real_assembler()};
    argv.insert(argv.end(), inv.options.begin(), inv.options.end());
    argv.insert(argv.end(), inv.inputs.begin(), inv.inputs.end());
    return run_program(argv);
}

void append_report(const std::string &line)
{
    const char *path = std::getenv("AFTERBURN_REPORT");
    if (!path || !*path) return;
    if (FILE *f = std::fopen(path, "a")) {
        std::fputs(line.c_str(), f);
        std::fclose(f);
    }
}

// Cross-checks the object we produced: every sensitive instruction in it must be annotated
// or explained. A miss is never silent; it is named here, at build time, by source file.
unsigned self_check(const std::string &object, const std::string &display)
{
    std::string error;
    auto img = elf_image::load(object, error);
    if (!img) {
        std::fprintf(stderr, "afterburn-as: warning: cannot re-read %s: %s\n", object.c_str(), error.c_str());
        return 0;
    }
    scan_report r = scan_image(*img);
    for (const auto &f : r.unexplained)
        std::fprintf(stderr, "afterburn-as: warning: %s: unannotated %s at %s (%s)\n", display.c_str(),
                     site_kind_name(f.kind), f.where.c_str(), f.text.c_str());
    for (const auto &b : r.bad) std::fprintf(stderr, "afterburn-as: warning: %s: %s\n", display.c_str(), b.c_str());
    return r.all.unexplained + r.bad_records;
}

void print_help()
{
    std::puts(
        "usage: afterburn-as [GNU as options] [FILE.s ...]\n"
        "\n"
        "The afterburn assembler pass. Reads GNU assembly (standard input when no file is\n"
        "given), pads every sensitive x86-64 instruction and records it in the object's\n"
        ".note.afterburn annotation table, then runs GNU as with the same options.\n"
        "16/32-bit code (--32, .code16, .code32) is assembled unannotated and reported.\n"
        "\n"
        "environment:\n"
        "  AFTERBURN_REAL_AS   the GNU assembler to run (default: `as` from PATH)\n"
        "  AFTERBURN_REPORT    append one line per object (sites, padding, 16/32-bit code)\n"
        "  AFTERBURN_KEEP      keep the annotated assembly next to the object (OBJECT.afterburn.s)\n"
        "\n"
        "See docs/annotation-format.md for the record layout and padding sizes.");
}

} // namespace

int main(int argc, char **argv)
{
    ensure_standard_fds();
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--afterburn-help") {
            print_help();
            return 0;
        }
    as_invocation inv = parse_arguments(argc, argv);
    if (inv.version_only) {
        // Version/feature probes (Kbuild's as-version.sh) must see GNU as itself.
        std::vector<std::string> real{real_assembler()};
        for (int i = 1; i < argc; ++i) real.push_back(argv[i]);
        exec_program(real);
        std::perror("afterburn-as: cannot run the real assembler");
        return 127;
    }

    std::string text, display;
    if (!read_inputs(inv, text, display)) return 1;

    auto lines = split_statements(text);
    auto macros = find_macros(text, lines);
    find_options options;
    options.bits32 = inv.bits32;
    for (size_t i = 0; i < inv.options.size(); ++i) {
        const auto &o = inv.options[i];
        if (o == "-I" && i + 1 < inv.options.size()) options.include_dirs.push_back(inv.options[i + 1]);
        else if (o.rfind("-I", 0) == 0 && o.size() > 2) options.include_dirs.push_back(o.substr(2));
    }
    // 16/32-bit objects are assembled unannotated (see below): their markers are left as comments.
    if (!inv.bits32) options.page_table_markers = find_page_table_markers(text, lines);
    for (const auto &m : macros) {
        options.skip_lines.insert(m.spliced_lines.begin(), m.spliced_lines.end());
        for (unsigned l = m.first_line; l <= m.last_line; ++l) options.macro_lines.insert(l);
    }
    site_scan scan = find_sites(text, lines, display, options);

    if (!scan.limits.empty()) {
        // Beyond what afterburn-as will expand (e.g. `.rept 1<<40`): GNU as would fail with no
        // line, or run for hours; name the statement instead.
        for (const auto &l : scan.limits) std::fprintf(stderr, "%s\n", l.c_str());
        std::fprintf(stderr, "afterburn-as: %s: no object written\n", display.c_str());
        unlink(inv.output.c_str());
        return 1;
    }
    if (!scan.errors.empty()) {
        // Malformed input: GNU as's own diagnostics (file and line) are what the user needs.
        int rc = assemble_original(inv, text);
        if (rc != 0) return rc;
        std::fprintf(stderr, "afterburn-as: %s assembles with GNU as but LLVM MC cannot classify it;\n"
                             "afterburn-as: refusing to produce an object with unannotated sites:\n",
                     display.c_str());
        size_t shown = 0;
        for (const auto &e : scan.errors)
            if (shown++ < 20) std::fprintf(stderr, "  %s\n", e.c_str());
        if (scan.errors.size() > 20) std::fprintf(stderr, "  ... %zu more\n", scan.errors.size() - 20);
        unlink(inv.output.c_str());
        return 1;
    }

    if (!scan.conflicts.empty()) {
        for (const auto &c : scan.conflicts) std::fprintf(stderr, "%s:%s\n", display.c_str(), c.c_str());
        std::fprintf(stderr, "afterburn-as: %s: cannot annotate; no object written\n", display.c_str());
        unlink(inv.output.c_str());
        return 1;
    }

    if (inv.bits32) {
        int rc = assemble_original(inv, text);
        if (rc == 0)
            append_report(inv.output + "\tbits=32\tsites=0\tnarrow_sensitive=" +
                          std::to_string(scan.sensitive_in_narrow_code) + "\n");
        return rc;
    }

    std::vector<argument_edit> edits;
    if (!inv.bits32) edits = annotate_macro_arguments(text, lines, macros, scan.warnings);
    bool nothing = scan.sites.empty() && scan.regions.empty() && edits.empty();
    std::string annotated = nothing ? text : insert_annotations(text, lines, scan, display, true, edits);
    if (const char *keep = std::getenv("AFTERBURN_KEEP"); keep && *keep) {
        std::ofstream(inv.output + ".afterburn.s", std::ios::binary) << annotated;
    }
    int rc = assemble(inv, annotated);
    if (rc != 0) {
        // Our insertions must never be the reason an assembly fails: tell the two apart.
        int original = assemble_original(inv, text);
        if (original != 0) return original;
        std::string keep = inv.output + ".afterburn.s";
        std::ofstream(keep, std::ios::binary) << annotated;
        std::fprintf(stderr, "afterburn-as: internal error: %s assembles unmodified but not annotated; "
                             "the annotated text is in %s\n", display.c_str(), keep.c_str());
        unlink(inv.output.c_str());
        return 1;
    }
    for (const auto &w : scan.warnings) std::fprintf(stderr, "afterburn-as: warning: %s\n", w.c_str());

    if (nothing) {
        unsigned missed = self_check(inv.output, display);
        append_report(inv.output + "\tbits=64\tsites=0\tnarrow_sensitive=0\tunannotated=" +
                      std::to_string(missed) + "\n");
        return 0;
    }
    auto res = annotate_object(inv.output);
    for (const auto &w : res.warnings) std::fprintf(stderr, "afterburn-as: warning: %s\n", w.c_str());
    if (!res.ok) {
        for (const auto &e : res.errors) std::fprintf(stderr, "afterburn-as: %s\n", e.c_str());
        unlink(inv.output.c_str());
        return 1;
    }
    unsigned missed = self_check(inv.output, display);
    std::ostringstream report;
    report << inv.output << "\tbits=64\tsites=" << res.sites << "\tpad_bytes=" << res.pad_bytes
           << "\tpage_table=" << res.page_table << "\tnot_sensitive=" << res.not_sensitive << "\tregions=" << res.regions
           << "\tnarrow_sensitive=" << scan.sensitive_in_narrow_code << "\tunannotated=" << missed << "\n";
    append_report(report.str());
    return 0;
}
