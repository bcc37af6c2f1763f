#include "macro_arguments.h"

#include <cctype>
#include <map>

#include "site_finder.h"
#include "site_inserter.h"

namespace afterburn {

namespace {

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$'; }

std::string_view trim(std::string_view s)
{
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

// Skips leading "label:" parts of a statement; returns the offset of the first word.
size_t skip_labels(std::string_view s)
{
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < s.size() && ident_char(s[j])) ++j;
        if (j > i && j < s.size() && s[j] == ':') {
            i = s.find_first_not_of(" \t", j + 1);
            if (i == std::string_view::npos) return s.size();
            continue;
        }
        return i;
    }
}

std::string_view first_word(std::string_view s, size_t &after)
{
    size_t i = skip_labels(s);
    size_t j = i;
    while (j < s.size() && ident_char(s[j])) ++j;
    after = j;
    return s.substr(i, j - i);
}

struct parsed_argument {
    size_t begin, end;  // the argument's text in the statement (quotes included)
    bool quoted;
    std::string keyword;  // "name" of name=value, else empty
    size_t value_begin;   // where the value starts (after `name=`)
};

// Splits macro invocation arguments the way gas does for the forms macros are called with:
// comma- or blank-separated, "quoted strings", name=value keywords.
std::vector<parsed_argument> split_arguments(std::string_view s, size_t from)
{
    std::vector<parsed_argument> args;
    size_t i = from;
    auto skip_blank = [&] { while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i; };
    skip_blank();
    while (i < s.size()) {
        parsed_argument a{i, i, false, {}, i};
        size_t k = i;
        while (k < s.size() && ident_char(s[k])) ++k;
        if (k < s.size() && k > i && s[k] == '=') {
            a.keyword = std::string(s.substr(i, k - i));
            i = k + 1;
        }
        a.value_begin = i;
        if (i < s.size() && s[i] == '"') {
            a.quoted = true;
            ++i;
            while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
            i = std::min(i + 1, s.size());
        } else {
            int depth = 0;
            while (i < s.size() && !(depth == 0 && (s[i] == ',' || s[i] == ' ' || s[i] == '\t'))) {
                if (s[i] == '(') ++depth;
                if (s[i] == ')') --depth;
                ++i;
            }
        }
        a.end = i;
        args.push_back(a);
        skip_blank();
        if (i < s.size() && s[i] == ',') {
            ++i;
            skip_blank();
            if (i == s.size()) args.push_back({i, i, false, {}, i});  // trailing empty argument
        }
    }
    return args;
}

// Annotates the statements of one argument value; returns the new value (unquoted) or
// nothing when no statement in it is sensitive.
bool annotate_value(std::string_view value, std::string &out, unsigned &sites, std::vector<std::string> &warnings,
                    std::string_view where)
{
    std::string text(value);
    text += '\n';
    auto lines = split_statements(text);
    site_scan scan = find_sites(text, lines, where);
    if (!scan.errors.empty()) {
        // Not plain instructions (a nested macro, a \param): its own expansion is annotated
        // where it is defined, and the scanner accounts for anything missed.
        return false;
    }
    if (scan.sites.empty()) return false;
    std::string annotated = insert_annotations(text, lines, scan, "", /*with_header=*/false);
    while (!annotated.empty() && (annotated.back() == '\n')) annotated.pop_back();
    out = annotated;
    sites = static_cast<unsigned>(scan.sites.size());
    for (auto &w : scan.warnings) warnings.push_back(std::string(where) + ": " + w);
    return true;
}

} // namespace

std::vector<macro_definition> find_macros(std::string_view text, const std::vector<asm_line> &lines)
{
    std::vector<macro_definition> macros;
    std::vector<size_t> open;  // indexes into macros of definitions being read
    for (size_t l = 0; l < lines.size(); ++l) {
        for (const auto &st : lines[l].statements) {
            std::string_view s = text.substr(st.begin, st.end - st.begin);
            size_t after;
            std::string_view w = first_word(s, after);
            if (w == ".macro") {
                macro_definition m;
                m.first_line = static_cast<unsigned>(l + 1);
                std::string_view rest = trim(s.substr(after));
                size_t n = 0;
                while (n < rest.size() && ident_char(rest[n])) ++n;
                m.name = std::string(rest.substr(0, n));
                rest = rest.substr(n);
                // Parameters: name[:qualifier][=default], comma- or blank-separated.
                size_t i = 0;
                while (i < rest.size()) {
                    while (i < rest.size() && (rest[i] == ',' || rest[i] == ' ' || rest[i] == '\t')) ++i;
                    size_t b = i;
                    while (i < rest.size() && ident_char(rest[i])) ++i;
                    if (i > b) m.params.emplace_back(rest.substr(b, i - b));
                    if (i > b && rest.substr(i, 7) == ":vararg") m.varargs.insert(m.params.back());
                    // Skip qualifier/default up to the next separator.
                    if (i < rest.size() && (rest[i] == ':' || rest[i] == '=')) {
                        if (rest[i] == '=' && i + 1 < rest.size() && rest[i + 1] == '"') {
                            i += 2;
                            while (i < rest.size() && rest[i] != '"') i += rest[i] == '\\' ? 2 : 1;
                            ++i;
                        }
                        while (i < rest.size() && rest[i] != ',' && rest[i] != ' ' && rest[i] != '\t') ++i;
                    } else if (i == b) {
                        ++i;
                    }
                }
                open.push_back(macros.size());
                macros.push_back(std::move(m));
                continue;
            }
            if (w == ".endm" || w == ".endmacro") {
                if (!open.empty()) {
                    macros[open.back()].last_line = static_cast<unsigned>(l + 1);
                    open.pop_back();
                }
                continue;
            }
            // A body line that is exactly `\param` splices an argument in as statements.
            if (!open.empty() && s.size() > 1 && s[0] == '\\') {
                std::string_view name = s.substr(1);
                if (name.size() >= 2 && name.substr(name.size() - 2) == "\\(") name.remove_suffix(2);
                auto &m = macros[open.back()];
                // A vararg argument is the rest of the invocation line, commas included:
                // it cannot carry our quoted annotation, so its body line is padded
                // (every use of the macro) like any other sensitive body line.
                for (const auto &p : m.params)
                    if (p == name && !m.varargs.count(p)) {
                        m.spliced.insert(p);
                        m.spliced_lines.insert(static_cast<unsigned>(l + 1));
                    }
            }
        }
    }
    return macros;
}

std::vector<argument_edit> annotate_macro_arguments(std::string_view text, const std::vector<asm_line> &lines,
                                                    const std::vector<macro_definition> &macros,
                                                    std::vector<std::string> &warnings)
{
    std::map<std::string_view, const macro_definition *> by_name;
    for (const auto &m : macros)
        if (!m.spliced.empty()) by_name[m.name] = &m;
    std::vector<argument_edit> edits;
    if (by_name.empty()) return edits;

    for (size_t l = 0; l < lines.size(); ++l) {
        for (const auto &st : lines[l].statements) {
            std::string_view s = text.substr(st.begin, st.end - st.begin);
            size_t after;
            std::string_view w = first_word(s, after);
            auto it = by_name.find(w);
            if (it == by_name.end()) continue;
            const macro_definition &m = *it->second;
            auto args = split_arguments(s, after);
            size_t positional = 0;
            for (const auto &a : args) {
                std::string param;
                if (!a.keyword.empty()) param = a.keyword;
                else if (positional < m.params.size()) param = m.params[positional++];
                if (!m.spliced.count(param)) continue;
                std::string_view value = s.substr(a.value_begin, a.end - a.value_begin);
                if (a.quoted) value = value.substr(1, value.size() >= 2 ? value.size() - 2 : 0);
                if (trim(value).empty()) continue;
                std::string where = "line " + std::to_string(l + 1) + " (" + m.name + " " + param + ")";
                std::string annotated;
                unsigned sites = 0;
                if (!annotate_value(value, annotated, sites, warnings, where)) continue;
                argument_edit e;
                e.begin = st.begin + a.value_begin;
                e.end = st.begin + a.end;
                e.replacement = "\"" + annotated + "\"";
                e.sites = sites;
                edits.push_back(std::move(e));
            }
        }
    }
    return edits;
}

} // namespace afterburn
