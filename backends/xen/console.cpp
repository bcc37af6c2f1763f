// Console output through HYPERVISOR_console_io(CONSOLEIO_write, ...).
#include "console.h"

#include <stdarg.h>

#include "hypercall.h"

namespace xw {

namespace {

struct line_buffer {
    char buf[256];
    unsigned long len = 0;

    void flush() {
        if (len) write(buf, len);
        len = 0;
    }
    void put(char c) {
        if (len == sizeof buf) flush();
        buf[len++] = c;
        if (c == '\n') flush();
    }
};

void put_number(line_buffer &out, unsigned long long v, unsigned base, bool negative, int width,
                bool zero_pad, bool left) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    int len = n + (negative ? 1 : 0);
    if (!left && !zero_pad)
        for (; width > len; --width) out.put(' ');
    if (negative) out.put('-');
    if (!left && zero_pad)
        for (; width > len; --width) out.put('0');
    while (n) out.put(digits[--n]);
    if (left)
        for (; width > len; --width) out.put(' ');
}

} // namespace

void write(const char *buf, unsigned long len) {
    // CONSOLEIO_write returns how much it took; Xen may take less than asked for.
    while (len) {
        long done = console_write(buf, len);
        if (done <= 0) return; // nowhere else to report it
        buf += done;
        len -= static_cast<unsigned long>(done);
    }
}

void print(const char *fmt, ...) {
    line_buffer out;
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; ++p) {
        if (*p != '%') {
            out.put(*p);
            continue;
        }
        ++p;
        bool zero_pad = false, left = false;
        for (;; ++p) {
            if (*p == '0') zero_pad = true;
            else if (*p == '-') left = true;
            else break;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        int precision = -1; // for %s: at most this many characters
        if (*p == '.') {
            ++p;
            precision = 0;
            if (*p == '*') {
                precision = va_arg(ap, int);
                ++p;
            } else {
                while (*p >= '0' && *p <= '9') precision = precision * 10 + (*p++ - '0');
            }
        }
        int longs = 0;
        while (*p == 'l' || *p == 'z') {
            ++longs;
            ++p;
        }
        switch (*p) {
        case 'd': {
            long long v = longs ? va_arg(ap, long long) : va_arg(ap, int);
            bool neg = v < 0;
            put_number(out, neg ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v),
                       10, neg, width, zero_pad, left);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            put_number(out, v, *p == 'u' ? 10 : 16, false, width, zero_pad, left);
            break;
        }
        case 'p':
            out.put('0');
            out.put('x');
            put_number(out, reinterpret_cast<unsigned long>(va_arg(ap, void *)), 16, false, 16, true, false);
            break;
        case 'c':
            out.put(static_cast<char>(va_arg(ap, int)));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            int len = 0;
            while ((precision < 0 || len < precision) && s[len]) ++len;
            if (!left)
                for (; width > len; --width) out.put(' ');
            for (int i = 0; i < len; ++i) out.put(s[i]);
            if (left)
                for (; width > len; --width) out.put(' ');
            break;
        }
        case '%':
            out.put('%');
            break;
        case '\0':
            --p; // a lone '%' at the end: stop at the terminator
            break;
        default:
            out.put('%');
            out.put(*p);
        }
    }
    va_end(ap);
    out.flush();
}

} // namespace xw
