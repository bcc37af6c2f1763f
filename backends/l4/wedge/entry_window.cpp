#include "entry_window.h"

#include "guest_platform.h"

extern "C" const unsigned char window_code[], window_code_end[], window_start[],
    window_interrupted[], window_restore[];

namespace lw {

namespace {

alignas(4096) uint64_t g_slots[512];
constinit window_frame g_frame{};

static_assert(__builtin_offsetof(window_frame, kind) == 144 && __builtin_offsetof(window_frame, ret) == 152 &&
                  __builtin_offsetof(window_frame, wedge_thread) == 160 &&
                  __builtin_offsetof(window_frame, ipc_entry) == 168,
              "entry_window.S addresses these fields by offset");
static_assert(afterburn::site_kind_count <= window_kinds, "entry_window.S has an entry per kind");

void touch(const volatile void *p) { (void)*static_cast<const volatile uint8_t *>(p); }

} // namespace

window_frame &frame_page() { return g_frame; }

void window_init(uint64_t wedge_thread, uint64_t ipc_entry) {
    for (uint64_t k = 0; k < 512; ++k) g_slots[k] = k < window_kinds ? window_base + 64 * k : 0;
    g_frame.wedge_thread = wedge_thread;
    g_frame.ipc_entry = ipc_entry;
    for (const unsigned char *p = window_code; p < window_code_end; p += 4096) touch(p);
    touch(&cpu().page);
}

bool window_page(uint64_t va, uint64_t &wedge_page, bool &writable) {
    uint64_t off = (va - window_base) & ~uint64_t(0xfff);
    uint64_t code = static_cast<uint64_t>(window_code_end - window_code);
    writable = false;
    if (va < window_base) return false;
    if (off < code) wedge_page = reinterpret_cast<uint64_t>(window_code) + off;
    else if (off == 0x10000) wedge_page = reinterpret_cast<uint64_t>(g_slots);
    else if (off == 0x20000) wedge_page = reinterpret_cast<uint64_t>(&cpu().page), writable = true;
    else if (off == 0x21000) wedge_page = reinterpret_cast<uint64_t>(&g_frame), writable = true;
    else return false;
    return true;
}

uint64_t window_start_ip() {
    return window_base + static_cast<uint64_t>(window_start - window_code);
}

uint64_t window_restore_ip() { return window_base + static_cast<uint64_t>(window_restore - window_code); }

uint64_t window_interrupted_ip() {
    return window_base + static_cast<uint64_t>(window_interrupted - window_code);
}

} // namespace lw
