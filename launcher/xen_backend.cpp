// The Xen backend: Debian's Xen 4.17 (gunzipped for QEMU's multiboot loader) boots the Xen
// wedge as a 64-bit PV dom0 under QEMU TCG; the guest is its boot module, which the wedge
// loads, rewrites and runs (backends/xen, docs/xen-backend.md).
#include "backend.hpp"
#include "vmm_session.hpp"

#include <filesystem>
#include <iostream>

namespace afterburn::launcher {

namespace {

std::string describe_xen_exit(const ExitStatus& st)
{
    if (!st.exited)
        return "the Xen runner " + st.describe();
    switch (st.code) {
    case 124: return "the Xen runner timed out";
    case 125: return "Xen ended without a verdict from the wedge (status 125)";
    case 126: return "the Xen runner was used wrongly or is missing files (status 126)";
    default: return "the wedge's verdict " + std::to_string(st.code);
    }
}

} // namespace

int boot_xen(const BootOptions& options, const ImageInfo&)
{
    if (options.initrd) {
        std::cerr << "afterburn boot: error: the xen backend does not take --initrd yet" << std::endl;
        return exit_usage;
    }
    const std::string runner = AFTERBURN_XEN_RUNNER, wedge = AFTERBURN_XEN_WEDGE;
    for (const auto& p : {runner, wedge})
        if (!std::filesystem::exists(p)) {
            std::cerr << "afterburn boot: error: " << p << " is missing: build the project first" << std::endl;
            return exit_usage;
        }
    if (!std::filesystem::exists("/boot/xen-4.17-amd64.gz")) {
        std::cerr << "afterburn boot: Xen not available on this machine: /boot/xen-4.17-amd64.gz is missing "
                     "(apt-get install xen-hypervisor-4.17-amd64)" << std::endl;
        return exit_unavailable;
    }
    // The guest's memory comes out of dom0's: give the domain what the guest asks for and more.
    unsigned dom0_mb = std::max(options.memory_mb, 64u) + 64;
    std::vector<std::string> argv{"sh", AFTERBURN_XEN_RUNNER, "--timeout",
                                  std::to_string(static_cast<int>(options.timeout_s)), "--xen-args",
                                  "dom0_mem=" + std::to_string(dom0_mb) + "M,max:" + std::to_string(dom0_mb) + "M",
                                  "--wedge-args", "guest", wedge, options.image.string()};
    argv.push_back(options.append ? *options.append : "console=ttyS0");
    BootOptions xen = options;
    xen.timeout_s += 30;  // the runner has its own timeout; ours only catches a stuck runner
    return run_vmm(argv, xen, {"Xen runner", describe_xen_exit, std::nullopt});
}

} // namespace afterburn::launcher
