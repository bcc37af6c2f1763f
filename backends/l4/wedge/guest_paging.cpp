#include "guest_paging.h"

#include "guest_platform.h"
#include "guest_ram.h"
#include "guest_relocate.h"

namespace lw {

namespace {

const guest_image *g_image;
bool g_boot_identity = true;

constexpr uint64_t pte_p = 1, pte_w = 2, pte_u = 4, pte_a = 0x20, pte_d = 0x40, pte_ps = 0x80;
constexpr uint64_t pte_addr = 0x000ffffffffff000ull, pte_nx = 1ull << 63;
constexpr uint32_t pf_p = 1, pf_w = 2, pf_u = 4, pf_i = 16;
constexpr uint64_t cr0_wp = 1ull << 16;

} // namespace

void paging_init(const guest_image &g) { g_image = &g; }

void paging_leave_boot_identity() { g_boot_identity = false; }

uint64_t guest_virt_minus_phys() { return g_image->virt_minus_phys; }

uint64_t fold_gpa(uint64_t gpa) {
    // kpa(p) = p - KERNEL_MAP of a relocated p lands at phys + (-virt_minus_phys).
    uint64_t alias = 0 - g_image->virt_minus_phys;
    uint64_t lo = g_image->virt_lo - g_image->virt_minus_phys + alias, hi = g_image->virt_hi - g_image->virt_minus_phys + alias;
    return gpa >= lo && gpa < hi ? gpa - alias : gpa;
}

bool translate(uint64_t va, bool write, bool user, translation &t, bool fetch) {
    uint32_t access = (write ? pf_w : 0) | (user ? pf_u : 0) | (fetch ? pf_i : 0);
    if (in_relocated_image(*g_image, va) && !user) {
        t.gpa = va;
        t.writable = true;
        return true;
    }
    if (g_boot_identity) {
        t.gpa = va;
        t.writable = true;
        t.pf_error = access;
        return va < guest_ram_bytes();
    }
    uint64_t table = fold_gpa(cpu().cr3 & pte_addr);
    bool w = true, u = true, x = true;
    for (int level = 3; level >= 0; --level) {
        unsigned shift = 12 + 9 * static_cast<unsigned>(level);
        auto *e = reinterpret_cast<volatile uint64_t *>(guest_phys(table + ((va >> shift) & 511) * 8, 8));
        if (!e || !(*e & pte_p)) {
            t.pf_error = access;
            return false;
        }
        uint64_t v = *e;
        w = w && (v & pte_w);
        u = u && (v & pte_u);
        x = x && !((v & pte_nx) && (cpu().efer & wedge::efer::nxe));
        if (level == 0 || (level <= 2 && (v & pte_ps))) {
            // CR0.WP clear: the guest kernel writes read-only pages too.
            bool may_write = w || (!user && !(cpu().cr0 & cr0_wp));
            bool allowed = (!user || u) && (!write || may_write) && (!fetch || x);
            if (!allowed) {
                t.pf_error = access | pf_p;
                return false;
            }
            *e = v | pte_a | (write ? pte_d : 0);
            uint64_t size = uint64_t(1) << shift;
            t.gpa = fold_gpa(((v & pte_addr) & ~(size - 1)) + (va & (size - 1)));
            // Writable in L4 only once dirty, so that the first write comes back here.
            t.writable = may_write && (write || (v & pte_d));
            t.executable = x;
            return true;
        }
        if (!(v & pte_a)) *e = v | pte_a;
        table = fold_gpa(v & pte_addr);
    }
    return false;
}

bool fetch_guest_code(uint64_t va, uint8_t *out, unsigned n) {
    for (unsigned k = 0; k < n; ++k) {  // byte by byte: an instruction may cross a page
        translation t;
        const uint8_t *p = nullptr;
        if (translate(va + k, false, cpu().cpl == 3, t, true)) p = guest_phys(t.gpa, 1);
        if (!p) return false;
        out[k] = *p;
    }
    return true;
}

} // namespace lw
