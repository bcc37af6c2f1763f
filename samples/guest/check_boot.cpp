// boot.params: the boot_params handed to the 64-bit entry describe this machine:
// the e820 map has RAM under the kernel image.
#include "checks.h"
#include "kernel.h"

extern "C" u8 _text[], _end[];

void check_boot_params() {
    u32 n = g_boot.e820_count;
    if (broken()) n = 0;   // break: act as if the loader passed an empty map
    if (n == 0) return fail("boot_params has no e820 entries");
    u64 lo = kpa(_text), hi = kpa(_end);
    for (u32 i = 0; i < n; i++) {
        const e820_entry& e = g_boot.e820[i];
        if (e.type == 1 && e.addr <= lo && e.addr + e.size >= hi) return;
    }
    fail("no e820 RAM entry covers the image [0x%lx, 0x%lx) (%u entries)", lo, hi, n);
}
