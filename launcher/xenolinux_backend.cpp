// The xenolinux backend: a para-virtualized Linux (`afterburn build-linux --xenolinux`) boots
// as Xen 4.17's 64-bit PV dom0 under QEMU TCG, with its initrd. This is XenoLinux, the baseline
// the afterburnt kernel on Xen is compared with (docs/xenolinux.md).
#include "backend.hpp"
#include "qemu_command.hpp"
#include "vmm_session.hpp"
#include "xen_dom0.hpp"

#include <cstdlib>
#include <iostream>

namespace afterburn::launcher {

int boot_xenolinux(const BootOptions& options, const ImageInfo& image)
{
    if (image.kind == ImageInfo::Kind::bzimage || !image.xen_pv) {
        std::cerr << "afterburn boot: error: '" << options.image.string()
                  << "' is not a Xen PV kernel (no Xen entry note, XEN_ELFNOTE_ENTRY): give the vmlinux "
                     "of `afterburn build-linux --xenolinux`" << std::endl;
        return exit_usage;
    }
    if (std::string problem = dom0_module_problem(options); !problem.empty()) {
        std::cerr << "afterburn boot: error: " << problem << std::endl;
        return exit_usage;
    }
    const auto xen_gz = xen_gz_path();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(xen_gz, ec)) {
        std::cerr << "afterburn boot: Xen not available on this machine: " << xen_gz.string()
                  << " is missing (apt-get install xen-hypervisor-4.17-amd64)" << std::endl;
        return exit_unavailable;
    }
    const char* cache_env = std::getenv("AFTERBURN_XEN_CACHE");
    auto xen = unpacked_xen(xen_gz, cache_env && *cache_env ? cache_env : AFTERBURN_XEN_CACHE_DIR);
    if (auto* err = std::get_if<XenError>(&xen)) {
        std::cerr << "afterburn boot: error: " << err->message << std::endl;
        return exit_start_failed;
    }
    // Dom0's console is Xen's (hvc0); Xen writes it to COM1.
    const std::string cmdline = options.append ? *options.append : "console=hvc0";
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", as Xen's PV dom0" << std::endl;
    return run_vmm(xen_dom0_qemu_argv(options, std::get<std::filesystem::path>(xen), cmdline), options,
                   {"QEMU (Xen)", describe_qemu_exit, std::nullopt});
}

} // namespace afterburn::launcher
