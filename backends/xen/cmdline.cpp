// Command-line parsing: space-separated words, no quoting (Xen passes none through anyway).
#include "cmdline.h"

namespace xw {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Calls f(word, len) for each word until "--" or the end; stops early if f returns true.
template <class F> void each_wedge_word(const char *s, F f) {
    while (*s) {
        while (is_space(*s)) ++s;
        const char *w = s;
        while (*s && !is_space(*s)) ++s;
        unsigned len = static_cast<unsigned>(s - w);
        if (!len) break;
        if (len == 2 && w[0] == '-' && w[1] == '-') break;
        if (f(w, len)) break;
    }
}

} // namespace

bool slice::equals(const char *s) const {
    if (!p) return false;
    for (unsigned i = 0; i < len; ++i)
        if (s[i] != p[i]) return false; // also stops at s's terminator (p[i] is never '\0')
    return s[len] == '\0';
}

slice cmdline_option(const char *cmdline, const char *key) {
    slice out;
    each_wedge_word(cmdline, [&](const char *w, unsigned len) {
        unsigned k = 0;
        while (key[k] && k < len && w[k] == key[k]) ++k;
        if (key[k]) return false;
        if (k == len) {
            out = slice{w + k, 0};
            return true;
        }
        if (w[k] != '=') return false;
        out = slice{w + k + 1, len - k - 1};
        return true;
    });
    return out;
}

const char *guest_cmdline(const char *cmdline) {
    const char *s = cmdline;
    while (*s) {
        while (is_space(*s)) ++s;
        const char *w = s;
        while (*s && !is_space(*s)) ++s;
        if (s - w == 2 && w[0] == '-' && w[1] == '-') {
            while (is_space(*s)) ++s;
            return s;
        }
    }
    return s;
}

} // namespace xw
