// The xenolinux backend: a para-virtualized Linux (`afterburn build-linux --xenolinux`) boots
// as Xen 4.17's 64-bit PV dom0 under QEMU TCG, with its initrd. This is XenoLinux, the baseline
// the afterburnt kernel on Xen is compared with (docs/xenolinux.md).
#include "backend.h"
#include "xen_dom0.h"

#include <iostream>

namespace afterburn::launcher {

int boot_xenolinux(const boot_options& options, const image_info& image)
{
    if (image.kind == image_kind::bzimage || !image.xen_pv) {
        std::cerr << "afterburn boot: error: '" << options.image.string()
                  << "' is not a Xen PV kernel (no Xen entry note, XEN_ELFNOTE_ENTRY): give the vmlinux "
                     "of `afterburn build-linux --xenolinux`" << std::endl;
        return exit_usage;
    }
    dom0_boot boot;
    boot.kernel = options.image;
    // Dom0's console is Xen's (hvc0); Xen writes it to COM1.
    boot.cmdline = options.append ? *options.append : "console=hvc0";
    boot.module = options.initrd;
    boot.dom0_mb = options.memory_mb;
    boot.cpu = xen_dom0_cpu(options.cpu);
    boot.qemu_args = options.qemu_args;
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", as Xen's PV dom0" << std::endl;
    return run_xen_dom0(boot, options);
}

} // namespace afterburn::launcher
