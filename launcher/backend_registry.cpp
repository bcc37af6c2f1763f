// The table behind `--on NAME`.
#include "backend.h"

#include <array>
#include <utility>

namespace afterburn::launcher {

// One entry per backend; xen, kvm and l4 join here as they land.
backend_fn find_backend(std::string_view name)
{
    static constexpr std::array<std::pair<std::string_view, backend_fn>, 6> backends = {{
        {"native", boot_native},
        {"kvm", boot_kvm},
        {"xen", boot_xen},
        {"xen-dom0", boot_xen_dom0},
        {"xenolinux", boot_xenolinux},
        {"l4", boot_l4},
    }};
    for (const auto& [n, fn] : backends)
        if (n == name)
            return fn;
    return nullptr;
}

} // namespace afterburn::launcher
