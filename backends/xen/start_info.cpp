// Reading and reporting start_info.
#include "start_info.h"

#include "console.h"

extern "C" char _image_start[], _image_end[], boot_stack[], boot_stack_top[];

namespace xw {

bool start_info_valid(const start_info_t *si) {
    static const char want[] = "xen-3.0-x86_64";
    for (unsigned i = 0; i < sizeof want - 1; ++i)
        if (si->magic[i] != want[i]) return false;
    return true;
}

void print_start_info(const start_info_t *si, unsigned long xen_rsp) {
    char magic[sizeof si->magic + 1];
    for (unsigned i = 0; i < sizeof si->magic; ++i) magic[i] = si->magic[i];
    magic[sizeof si->magic] = 0;

    print("xen-wedge: start_info at %p magic \"%s\" flags 0x%x%s%s%s\n", static_cast<const void *>(si),
          magic, si->flags, si->flags & SIF_PRIVILEGED ? " privileged" : "",
          si->flags & SIF_INITDOMAIN ? " initdomain" : "",
          si->flags & SIF_MOD_START_PFN ? " mod_start_pfn" : "");
    print("xen-wedge: nr_pages %lu (%lu MiB) shared_info machine 0x%lx\n", si->nr_pages,
          si->nr_pages >> 8, si->shared_info);
    print("xen-wedge: pt_base 0x%016lx nr_pt_frames %lu\n", si->pt_base, si->nr_pt_frames);
    print("xen-wedge: mfn_list 0x%016lx (%lu bytes) first_p2m_pfn %lu nr_p2m_frames %lu\n",
          si->mfn_list, si->nr_pages * sizeof(xen_pfn_t), si->first_p2m_pfn, si->nr_p2m_frames);
    print("xen-wedge: mod_start 0x%016lx mod_len %lu\n", si->mod_start, si->mod_len);
    print("xen-wedge: console info_off %u info_size %u\n", si->console.dom0.info_off,
          si->console.dom0.info_size);
    print("xen-wedge: cmd_line \"%s\"\n", reinterpret_cast<const char *>(si->cmd_line));
    print("xen-wedge: image 0x%016lx-0x%016lx, stack top %p, Xen's entry rsp 0x%016lx\n",
          reinterpret_cast<unsigned long>(_image_start), reinterpret_cast<unsigned long>(_image_end),
          static_cast<void *>(boot_stack_top), xen_rsp);
    // The p2m list maps pseudo-physical frame -> machine frame; pfn 0 is our first page.
    auto *p2m = reinterpret_cast<const xen_pfn_t *>(si->mfn_list);
    print("xen-wedge: p2m[0] = mfn 0x%lx, p2m[%lu] = mfn 0x%lx\n", p2m[0], si->nr_pages - 1,
          p2m[si->nr_pages - 1]);
}

module_bytes boot_module(const start_info_t *si) {
    if (!si->mod_start || !si->mod_len || (si->flags & SIF_MOD_START_PFN)) return {nullptr, 0};
    return {reinterpret_cast<const unsigned char *>(si->mod_start), si->mod_len};
}

} // namespace xw
