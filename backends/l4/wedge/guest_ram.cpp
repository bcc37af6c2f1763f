#include "guest_ram.h"

#include "console.h"
#include "sigma0.h"

namespace lw {

namespace {

uint64_t g_bytes;

} // namespace

bool map_guest_ram(uint64_t mib) {
    const uint64_t chunk = uint64_t(1) << guest_ram_chunk_log2, want = mib << 20;
    uint64_t lowest = ~uint64_t(0), highest = 0;
    for (g_bytes = 0; g_bytes < want; g_bytes += chunk) {
        uint64_t phys;
        if (!sigma0_map_any(guest_ram_chunk_log2, guest_ram_window + g_bytes, phys)) {
            print("l4-wedge: guest RAM: sigma0 gave only %lu of %lu MiB: too little memory (give QEMU more, or the "
                  "guest less with --memory)\n", g_bytes >> 20, mib);
            return false;
        }
        if (phys < lowest) lowest = phys;
        if (phys + chunk > highest) highest = phys + chunk;
    }
    print("l4-wedge: guest RAM: %lu MiB at 0x%lx, sigma0's 4 KiB pages from physical [0x%lx, 0x%lx)\n", mib,
          guest_ram_window, lowest, highest);
    return true;
}

uint64_t guest_ram_bytes() { return g_bytes; }

uint8_t *guest_phys(uint64_t gpa, uint64_t len) {
    if (gpa > g_bytes || len > g_bytes - gpa) return nullptr;
    return reinterpret_cast<uint8_t *>(guest_ram_window + gpa);
}

} // namespace lw
