// The native backend: the image runs directly under QEMU TCG, no hypervisor underneath.
#include "backend.h"
#include "qemu_command.h"
#include "vmm_session.h"

#include <iostream>

namespace afterburn::launcher {

int boot_native(const boot_options& options, const image_info& image)
{
    if (std::string why = not_bootable_by_qemu(image, options.image); !why.empty()) {
        std::cerr << "afterburn boot: error: " << why << std::endl;
        return exit_usage;
    }
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << std::endl;
    return run_vmm(native_qemu_argv(options, image), options, {"QEMU", describe_qemu_exit, std::nullopt});
}

} // namespace afterburn::launcher
