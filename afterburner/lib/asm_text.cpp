#include "asm_text.h"

namespace afterburn {

namespace {
bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
} // namespace

std::vector<asm_line> split_statements(std::string_view text)
{
    std::vector<asm_line> lines;
    bool in_block_comment = false;  // /* ... */ may span lines
    size_t pos = 0;
    while (pos <= text.size()) {
        asm_line line;
        line.begin = pos;
        size_t nl = text.find('\n', pos);
        line.end = nl == std::string_view::npos ? text.size() : nl;

        size_t stmt_begin = std::string_view::npos;  // first non-blank of the current statement
        size_t stmt_last = 0;                        // one past its last non-blank character
        auto close = [&] {
            if (stmt_begin != std::string_view::npos) line.statements.push_back({stmt_begin, stmt_last});
            stmt_begin = std::string_view::npos;
        };
        bool in_string = false;
        for (size_t i = line.begin; i < line.end; ++i) {
            char c = text[i];
            if (in_block_comment) {
                if (c == '*' && i + 1 < line.end && text[i + 1] == '/') {
                    in_block_comment = false;
                    ++i;
                }
                continue;
            }
            if (in_string) {
                stmt_last = i + 1;
                if (c == '\\' && i + 1 < line.end) { ++i; stmt_last = i + 1; }
                else if (c == '"') in_string = false;
                continue;
            }
            if (c == '#') break;  // comment to end of line
            if (c == '/' && i + 1 < line.end && text[i + 1] == '*') {
                in_block_comment = true;
                ++i;
                continue;
            }
            if (c == ';') { close(); continue; }
            if (blank(c)) continue;
            if (stmt_begin == std::string_view::npos) stmt_begin = i;
            stmt_last = i + 1;
            if (c == '"') in_string = true;
            else if (c == '\'' && i + 1 < line.end) {
                // Character constant: the next character is literal (even ';' or '"').
                ++i;
                if (text[i] == '\\' && i + 1 < line.end) ++i;
                stmt_last = i + 1;
            }
        }
        close();
        lines.push_back(std::move(line));
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return lines;
}

namespace {
// `.loc ...` or `.file N "name"`: debug-line directives that would collide with ours.
bool is_debug_line_directive(std::string_view s)
{
    auto starts = [&](std::string_view p) { return s.substr(0, p.size()) == p; };
    if (starts(".loc") && (s.size() == 4 || s[4] == ' ' || s[4] == '\t' || s[4] == '_')) return true;
    if (starts(".file") && s.size() > 5 && (s[5] == ' ' || s[5] == '\t')) {
        size_t i = s.find_first_not_of(" \t", 5);
        return i != std::string_view::npos && s[i] >= '0' && s[i] <= '9';
    }
    return false;
}
} // namespace

namespace {
// `.rept EXPR` (or `.rep`) -> the count of the repetition, or an empty view.
std::string_view rept_count(std::string_view s)
{
    for (std::string_view d : {std::string_view(".rept"), std::string_view(".rep")})
        if (s.substr(0, d.size()) == d && s.size() > d.size() && (s[d.size()] == ' ' || s[d.size()] == '\t'))
            return s.substr(d.size() + 1);
    return {};
}

// The same repetition, guarded: an error naming the line when the count is above
// max_rept_count, and then a count of -1, which LLVM refuses before expanding anything.
std::string guarded_rept(std::string_view count)
{
    std::string e = "(" + std::string(count) + ")", limit = std::to_string(max_rept_count);
    return ".if " + e + " > " + limit + "; .error \"" + limit_diagnostic_prefix + ".rept count above " + limit +
           "\"; .endif; .rept " + e + " | (" + e + " > " + limit + ")";
}
} // namespace

std::string instrument_for_origins(std::string_view text, const std::vector<asm_line> &lines)
{
    std::string out;
    out.reserve(text.size() * 2);
    out += ".file " + std::to_string(origin_file) + " \"afterburn-origin\"; ";
    size_t copied = 0;
    for (size_t l = 0; l < lines.size(); ++l) {
        const auto &line = lines[l];
        for (size_t k = 0; k < line.statements.size(); ++k) {
            size_t at = line.statements[k].begin;
            out.append(text.substr(copied, at - copied));
            out += ".loc " + std::to_string(origin_file) + " " + std::to_string(l + 1) + " " + std::to_string(k) + "; ";
            copied = at;
            const auto &st = line.statements[k];
            std::string_view statement = text.substr(st.begin, st.end - st.begin);
            if (is_debug_line_directive(statement)) {
                out.append(st.end - st.begin, ' ');
                copied = st.end;
            } else if (std::string_view count = rept_count(statement); !count.empty()) {
                out += guarded_rept(count);
                copied = st.end;
            }
        }
    }
    out.append(text.substr(copied));
    return out;
}

} // namespace afterburn
