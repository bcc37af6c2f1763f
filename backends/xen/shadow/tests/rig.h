// A vCPU on the fake machine: a shadow_mmu with a pool, the wedge's ranges (the entry
// window and 2 MiB of the wedge image) and Xen's reserved slots, guest page tables, and an
// access loop that does what the hardware + Xen + the wedge do together: try the access on
// the machine tables, on a fault ask the shadow, retry or report the guest's #PF.
#pragma once

#include <memory>
#include <vector>

#include "fake_machine.h"

namespace afterburn::xen_shadow::test {

inline constexpr uint64_t window = 0xffffffffffe00000ull;      // wedge_abi::window_base
inline constexpr uint64_t vcpu_page_va = window + 0x20000;     // wedge_abi::vcpu_page
inline constexpr uint64_t wedge_image = 0xffffffff80000000ull; // xen-wedge.ld VIRT_BASE
inline constexpr uint64_t xen_hole = 0xffff800000000000ull, xen_hole_end = 0xffff880000000000ull;
inline constexpr uint64_t pool_base_mfn = 0x100000, wedge_l1_mfn = 0x200000, wedge_data_mfn = 0x300000;

// guest PTE flag shorthands
inline constexpr uint64_t P = pte::present, W = pte::write, U = pte::user, A = pte::accessed, D = pte::dirty,
                          NX = pte::nx;

struct cpu_outcome {
    bool ok = false;
    uint64_t maddr = 0;
    uint32_t error_code = 0;
    uint64_t cr2 = 0;
    fault_outcome outcome = fault_outcome::fixed;  // of the last handle_fault
    int faults = 0;                                // hypervisor faults taken
};

struct rig {
    fake_machine m;
    std::vector<pool_frame> pool;
    uint64_t window_l1[1] = {wedge_l1_mfn};
    uint64_t image_l1[1] = {wedge_l1_mfn + 1};
    wedge_range wedge[2];
    va_range reserved[1] = {{xen_hole, xen_hole_end}};
    std::unique_ptr<shadow_mmu> sh;
    guest_tables gt{m};
    uint64_t cr3 = 0;
    init_status status = init_status::ok;

    // `pool_mfns`: the pool's machine frames (default: pool_frames from pool_base_mfn on).
    // `spaces`: the address spaces the shadow keeps (shadow_setup::spaces).
    explicit rig(size_t pool_frames = 256, paging_config cfg = {}, bool wedge_in_user_root = false,
                 const std::vector<uint64_t> &pool_mfns = {}, unsigned spaces = 1)
    {
        if (!pool_mfns.empty())
            pool_frames = pool_mfns.size();
        for (size_t i = 0; i < pool_frames; ++i) {
            const uint64_t mfn = pool_mfns.empty() ? pool_base_mfn + i : pool_mfns[i];
            m.add_pool_frame(mfn);
            pool.push_back(pool_frame{m.frame(mfn).data(), mfn});
        }
        // The wedge's own L1 tables, built by the backend: the window's first page (entry
        // stubs, read-only) and the vCPU page (writable); the image's first page.
        m.add_wedge_l1(window_l1[0]);
        m.add_wedge_l1(image_l1[0]);
        m.frame(wedge_data_mfn);
        m.frame(wedge_data_mfn + 1);
        m.frame(wedge_data_mfn + 2);
        m.frame(window_l1[0])[0] = (wedge_data_mfn << 12) | P | U | A;
        m.frame(window_l1[0])[0x20] = ((wedge_data_mfn + 1) << 12) | P | W | U | A | D;
        m.frame(image_l1[0])[0] = ((wedge_data_mfn + 2) << 12) | P | U | A;
        wedge[0] = wedge_range{window, 0, window_l1, wedge_in_user_root};
        wedge[1] = wedge_range{wedge_image, wedge_image + page_2m, image_l1, wedge_in_user_root};

        m.add_ram(0, 0x100);  // data frames gfn 0..0xff; tables from gfn 0x100
        sh = std::make_unique<shadow_mmu>(m, m);
        shadow_setup s;
        s.frames = pool.data();
        s.frame_count = pool.size();
        s.wedge = wedge;
        s.wedge_count = 2;
        s.reserved = reserved;
        s.reserved_count = 1;
        s.spaces = spaces;
        status = sh->init(s, cfg);
        if (status == init_status::ok && !sh->activate())
            status = init_status::hypervisor_refused;
        cr3 = gt.new_table();
        sh->load_cr3(cr3);
    }

    cpu_outcome access_va(uint64_t va, const access_type &a)
    {
        cpu_outcome o;
        for (int i = 0; i < 6; ++i) {
            const machine_result t = m.translate(va, a);
            if (t.ok) {
                o.ok = true;
                o.maddr = t.maddr;
                return o;
            }
            ++o.faults;
            const fault_result r = sh->handle_fault(va, a);
            o.outcome = r.outcome;
            if (r.outcome == fault_outcome::inject_pf) {
                o.error_code = r.error_code;
                o.cr2 = r.address;
                return o;
            }
            if (r.outcome != fault_outcome::fixed)
                return o;
        }
        o.outcome = fault_outcome::hypervisor_refused;  // the shadow keeps not fixing it
        return o;
    }
    cpu_outcome read(uint64_t va, bool user = false) { return access_va(va, access_type::read_at(user)); }
    cpu_outcome write(uint64_t va, bool user = false) { return access_va(va, access_type::write_at(user)); }
    cpu_outcome fetch(uint64_t va, bool user = false) { return access_va(va, access_type::fetch_at(user)); }

    // The machine address the guest's gpa is backed by.
    uint64_t maddr_of(uint64_t gpa) const { return (m.mfn_of(gpa >> 12) << 12) | (gpa & 0xfff); }
    uint64_t &machine_word(uint64_t maddr) { return m.frame(maddr >> 12)[(maddr & 0xfff) / 8]; }
};

} // namespace afterburn::xen_shadow::test
