#include "page_table_markers.h"

namespace afterburn {

std::map<unsigned, site_kind> find_page_table_markers(std::string_view text, const std::vector<asm_line> &lines)
{
    std::map<unsigned, site_kind> out;
    // Cheap test first: most objects have no marker at all.
    if (text.find(page_table_marker) == std::string_view::npos) return out;
    for (size_t l = 0; l < lines.size(); ++l) {
        std::string_view line = text.substr(lines[l].begin, lines[l].end - lines[l].begin);
        size_t b = line.find_first_not_of(" \t");
        if (b == std::string_view::npos || line.substr(b, page_table_marker.size()) != page_table_marker) continue;
        std::string_view rest = line.substr(b + page_table_marker.size());
        size_t w = rest.find_first_not_of(" \t");
        std::string_view word = w == std::string_view::npos ? std::string_view() : rest.substr(w);
        while (!word.empty() && (word.back() == ' ' || word.back() == '\t' || word.back() == '\r'))
            word.remove_suffix(1);
        out[static_cast<unsigned>(l + 1)] = word == "store" ? site_kind::page_table_store
                                            : word == "load" ? site_kind::page_table_load
                                                             : site_kind::none;
    }
    return out;
}

} // namespace afterburn
