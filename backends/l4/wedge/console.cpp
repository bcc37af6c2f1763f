#include "console.h"

#include <stdarg.h>
#include <stdint.h>

#include "l4_abi.h"

namespace lw {

namespace {

void put_number(uint64_t v, unsigned base, unsigned width, char pad) {
    char digits[24];
    unsigned n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (width > n) {
        l4::kdb_print_char(pad);
        --width;
    }
    while (n) l4::kdb_print_char(digits[--n]);
}

} // namespace

void print(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; ++p) {
        if (*p != '%') {
            l4::kdb_print_char(*p);
            continue;
        }
        ++p;
        char pad = ' ';
        if (*p == '0') pad = *p++;
        unsigned width = 0;
        while (*p >= '0' && *p <= '9') width = width * 10 + static_cast<unsigned>(*p++ - '0');
        bool is_long = false;
        while (*p == 'l') is_long = true, ++p;
        switch (*p) {
        case 's':
            for (const char *s = va_arg(ap, const char *); s && *s; ++s) l4::kdb_print_char(*s);
            break;
        case 'c': l4::kdb_print_char(static_cast<char>(va_arg(ap, int))); break;
        case 'u':
        case 'x': {
            uint64_t v = is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_number(v, *p == 'x' ? 16 : 10, width, pad);
            break;
        }
        case 'd': {
            int64_t v = is_long ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) l4::kdb_print_char('-');
            put_number(v < 0 ? static_cast<uint64_t>(-v) : static_cast<uint64_t>(v), 10, width, pad);
            break;
        }
        case '%': l4::kdb_print_char('%'); break;
        case 0: --p; break;
        default: l4::kdb_print_char('?'); break;
        }
    }
    va_end(ap);
}

} // namespace lw
