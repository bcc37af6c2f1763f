// The boot_params ("zero page") of the Linux x86 boot protocol: the only input the
// 64-bit entry gets (RSI). Offsets are those of Linux's struct boot_params.
#include "kernel.h"

boot_info g_boot;

namespace {
constexpr u64 bp_ext_cmd_line_ptr = 0x0c8;
constexpr u64 bp_e820_entries = 0x1e8;
constexpr u64 bp_cmd_line_ptr = 0x228;
constexpr u64 bp_e820_table = 0x2d0;
constexpr size_t cmdline_max = 512;
char g_cmdline_copy[cmdline_max];

template <typename T> T bp_read(u64 off) {
    return *static_cast<const volatile T*>(phys_to_virt(g_boot.params_pa + off));
}

// Find the next space-separated word; returns its length (0 at the end).
size_t next_word(const char*& p) {
    while (*p == ' ') p++;
    size_t n = 0;
    while (p[n] && p[n] != ' ') n++;
    return n;
}
}  // namespace

void boot_parse(u64 params_pa) {
    g_boot.params_pa = params_pa;
    u8 n = bp_read<u8>(bp_e820_entries);
    g_boot.e820_count = n > 128 ? 128 : n;
    memcpy(g_boot.e820, phys_to_virt(params_pa + bp_e820_table), g_boot.e820_count * sizeof(e820_entry));
    u64 cmd = bp_read<u32>(bp_cmd_line_ptr) | (u64)bp_read<u32>(bp_ext_cmd_line_ptr) << 32;
    size_t len = 0;
    if (cmd) {
        const char* src = static_cast<const char*>(phys_to_virt(cmd));
        while (len + 1 < cmdline_max && src[len]) {
            g_cmdline_copy[len] = src[len];
            len++;
        }
    }
    g_cmdline_copy[len] = 0;
    g_boot.cmdline = g_cmdline_copy;
}

bool cmdline_has(const char* word) {
    const char* p = g_boot.cmdline;
    size_t wl = strlen(word);
    while (size_t n = next_word(p)) {
        if (n == wl && memcmp(p, word, n) == 0) return true;
        p += n;
    }
    return false;
}

bool cmdline_break(const char* name) {
    const char* p = g_boot.cmdline;
    size_t nl = strlen(name);
    while (size_t n = next_word(p)) {
        if (n == 6 + nl && memcmp(p, "break=", 6) == 0 && memcmp(p + 6, name, nl) == 0) return true;
        p += n;
    }
    return false;
}
