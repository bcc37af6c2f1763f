#include "console_line.h"

#include "console.h"

namespace xw {

namespace {

struct console_line {
    char text[256];
    unsigned len;
    uint64_t lines;
};
constinit console_line g_console{};

} // namespace

void console_put(char c) {
    if (c == '\r') return;
    g_console.text[g_console.len++] = c;
    if (c == '\n' || g_console.len == sizeof g_console.text) console_flush();
}

void console_flush() {
    if (!g_console.len) return;
    write(g_console.text, g_console.len);
    g_console.len = 0;
    ++g_console.lines;
}

uint64_t console_lines() { return g_console.lines; }

} // namespace xw
