// Freestanding replacements for the few libc functions the compiler may call.
#include "kernel.h"

extern "C" void* memset(void* d, int c, size_t n) {
    auto* p = static_cast<volatile u8*>(d);  // volatile: keep gcc from turning this into memset()
    for (size_t i = 0; i < n; i++) p[i] = (u8)c;
    return d;
}
extern "C" void* memcpy(void* d, const void* s, size_t n) {
    auto* dp = static_cast<volatile u8*>(d);
    auto* sp = static_cast<const u8*>(s);
    for (size_t i = 0; i < n; i++) dp[i] = sp[i];
    return d;
}
extern "C" int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const u8*>(a);
    auto* y = static_cast<const u8*>(b);
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
bool str_eq(const char* a, const char* b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

namespace {
struct fmt_out {
    char* buf;
    size_t size, len;
    void put(char c) {
        if (len + 1 < size) buf[len] = c;
        len++;
    }
};
void put_num(fmt_out& o, u64 v, unsigned base, bool neg) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg) o.put('-');
    while (n) o.put(tmp[--n]);
}
}  // namespace

int vformat(char* buf, size_t size, const char* fmt, va_list ap) {
    fmt_out o{buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') { o.put(*fmt); continue; }
        fmt++;
        bool lng = false;
        if (*fmt == 'l') { lng = true; fmt++; }
        switch (*fmt) {
        case 's': for (const char* s = va_arg(ap, const char*); *s; s++) o.put(*s); break;
        case 'c': o.put((char)va_arg(ap, int)); break;
        case 'p': o.put('0'); o.put('x'); put_num(o, (u64)va_arg(ap, void*), 16, false); break;
        case 'x': put_num(o, lng ? va_arg(ap, u64) : va_arg(ap, u32), 16, false); break;
        case 'u': put_num(o, lng ? va_arg(ap, u64) : va_arg(ap, u32), 10, false); break;
        case 'd': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(o, v < 0 ? -(u64)v : (u64)v, 10, v < 0);
            break;
        }
        case '%': o.put('%'); break;
        default: o.put('?'); break;
        }
    }
    if (size) buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int format(char* buf, size_t size, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
