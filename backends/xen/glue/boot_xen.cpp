// The Xen backend: Debian's Xen 4.17 boots the Xen wedge (xen-wedge.elf) as a 64-bit PV dom0
// under QEMU TCG; the guest is its boot module, which the wedge loads, rewrites and runs
// (backends/xen, docs/xen-backend.md). The wedge ends the run with its verdict.
#include "backend.hpp"
#include "install_layout.hpp"
#include "xen_dom0.hpp"

#include <algorithm>
#include <iostream>

namespace afterburn::launcher {

int boot_xen(const BootOptions& options, const ImageInfo& image)
{
    if (std::string why = not_bootable_by_qemu(image, options.image); !why.empty()) {
        std::cerr << "afterburn boot: error: " << why << std::endl;
        return exit_usage;
    }
    if (options.initrd) {
        std::cerr << "afterburn boot: error: the xen backend does not take --initrd yet" << std::endl;
        return exit_usage;
    }
    const auto wedge = helper_path("xen-wedge.elf");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(wedge, ec)) {
        std::cerr << "afterburn boot: error: " << wedge.string()
                  << " is missing: build the project (target xen-wedge) or install it" << std::endl;
        return exit_usage;
    }
    Dom0Boot boot;
    boot.kernel = wedge;
    // Wedge options before "--" (guest: boot the module through the wedge), the guest's after.
    boot.cmdline = "guest -- " + (options.append ? *options.append : std::string("console=ttyS0"));
    boot.module = std::filesystem::absolute(options.image);
    // The guest's memory comes out of dom0's: give the domain what the guest asks for and more.
    boot.dom0_mb = std::max(options.memory_mb, 64u) + 64;
    boot.cpu = options.cpu;
    boot.xen_options = "loglvl=all guest_loglvl=all"; // everything Xen says about the wedge
    boot.qemu_args = options.qemu_args;
    boot.dom0_is_wedge = true;
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", through the Xen wedge as Xen's PV dom0"
                  << std::endl;
    return run_xen_dom0(boot, options);
}

int boot_xen_dom0(const BootOptions& options, const ImageInfo& image)
{
    if (image.kind == ImageInfo::Kind::bzimage || !image.xen_pv) {
        std::cerr << "afterburn boot: error: '" << options.image.string()
                  << "' is not a Xen PV kernel (no Xen entry note, XEN_ELFNOTE_ENTRY)" << std::endl;
        return exit_usage;
    }
    Dom0Boot boot;
    boot.kernel = std::filesystem::absolute(options.image);
    boot.cmdline = options.append.value_or("");
    if (options.initrd)
        boot.module = std::filesystem::absolute(*options.initrd);
    boot.dom0_mb = options.memory_mb;
    boot.cpu = options.cpu;
    boot.xen_options = "loglvl=all guest_loglvl=all";
    boot.qemu_args = options.qemu_args;
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", as Xen's PV dom0" << std::endl;
    return run_xen_dom0(boot, options);
}

} // namespace afterburn::launcher
