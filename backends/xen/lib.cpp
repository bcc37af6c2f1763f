// The four memory functions GCC may emit calls to even in freestanding code (struct
// copies, zero-initialised arrays). No libc here, so the wedge provides them. The build uses
// -fno-tree-loop-distribute-patterns, or GCC would turn these very loops into calls to
// themselves.
#include <stddef.h>

extern "C" {

void *memset(void *dst, int c, size_t n) {
    auto *d = static_cast<unsigned char *>(dst);
    while (n--) *d++ = static_cast<unsigned char>(c);
    return dst;
}

void *memcpy(void *__restrict dst, const void *__restrict src, size_t n) {
    auto *d = static_cast<unsigned char *>(dst);
    auto *s = static_cast<const unsigned char *>(src);
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    auto *d = static_cast<unsigned char *>(dst);
    auto *s = static_cast<const unsigned char *>(src);
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    auto *x = static_cast<const unsigned char *>(a);
    auto *y = static_cast<const unsigned char *>(b);
    for (; n; --n, ++x, ++y)
        if (*x != *y) return *x - *y;
    return 0;
}

// The vtables of abstract interfaces (wedge core, shadow core) name it; never called.
void __cxa_pure_virtual() {
    for (;;) asm volatile("ud2");
}

} // extern "C"
