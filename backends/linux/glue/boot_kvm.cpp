// The KVM backend: afterburn-kvm runs the guest with the KVM wedge. These machines' /dev/kvm
// is usually a software module that cannot run ordinary guests, so the usual path is nested:
// an L1 Debian kernel under QEMU TCG with kvm_amd nested=1 (nested_l1.h).
#include "afterburn_kvm_exit.h"
#include "backend.h"
#include "install_layout.h"
#include "nested_l1.h"
#include "qemu_command.h"
#include "vmm_session.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace afterburn::launcher {

namespace {

// Why this host's /dev/kvm cannot be used directly, or "" when it can.
std::string direct_kvm_unusable()
{
    if (::access("/dev/kvm", R_OK | W_OK) != 0)
        return "no usable /dev/kvm";
    if (std::filesystem::exists("/sys/module/kvm_pvm"))
        return "/dev/kvm is kvm_pvm, which cannot run ordinary guests";
    if (!std::filesystem::exists("/sys/module/kvm_intel") && !std::filesystem::exists("/sys/module/kvm_amd"))
        return "/dev/kvm is not backed by kvm_intel or kvm_amd";
    return {};
}

// afterburn-kvm: $AFTERBURN_KVM if set, else the helper next to this program.
std::filesystem::path afterburn_kvm_path()
{
    const char* override_path = std::getenv("AFTERBURN_KVM");
    return override_path && *override_path ? std::filesystem::path(override_path) : helper_path("afterburn-kvm");
}

} // namespace

int boot_kvm(const boot_options& options, const image_info& image)
{
    if (std::string why = not_bootable_by_qemu(image, options.image); !why.empty()) {
        std::cerr << "afterburn boot: error: " << why << std::endl;
        return exit_usage;
    }
    nested_guest guest{afterburn_kvm_path(), options.image, std::nullopt, options.initrd, {}};
    if (!options.no_wedge)
        guest.wedge = helper_path("kvm-wedge.elf");
    for (const auto& p : {std::optional(guest.afterburn_kvm), guest.wedge})
        if (p && !std::filesystem::exists(*p)) {
            std::cerr << "afterburn boot: error: " << p->string() << " is missing: build the project or install it"
                      << std::endl;
            return exit_usage;
        }
    // Without annotations the wedge rewrites nothing and every sensitive instruction traps: the
    // sign of a kernel not built with the toolchain. Run it only when the user asks for that.
    if (!image.annotated && guest.wedge && !options.trap_and_emulate) {
        std::cerr << "afterburn boot: error: " << options.image.string()
                  << " has no Afterburn annotation note (.note.afterburn, docs/annotation-format.md): the KVM "
                     "wedge would have nothing to rewrite. Build it with afterburn-cc (afterburn build-linux), "
                     "or pass --trap-and-emulate to run it on the fallback alone (or --no-wedge)"
                  << std::endl;
        return exit_usage;
    }
    if (options.initrd && !std::filesystem::is_regular_file(*options.initrd)) {
        std::cerr << "afterburn boot: error: --initrd " << options.initrd->string() << ": no such file" << std::endl;
        return exit_usage;
    }
    guest.launcher_args = {"--stats", "--memory", std::to_string(options.memory_mb), "--timeout",
                           std::to_string(static_cast<int>(options.timeout_s))};
    // Linux: nested, a pending interrupt may not reach a guest that never exits; a kick every
    // 10 ms makes KVM look again (docs/kvm-backend-notes.md, "Linux"). Not for other guests:
    // with kicks the sample guest's hlt check trips QEMU 7.2's own TCG assertion in the L0.
    if (image.is_linux)
        guest.launcher_args.insert(guest.launcher_args.end(), {"--kick-ms", "10"});
    // Linux: the console is ttyS0, and a panic reboots at once (the launcher ends the run on
    // the reset) instead of hanging until the timeout. lpj: nested, Linux's calibrate_delay()
    // and the local APIC timer calibration busy-wait for timer ticks that nested KVM may not deliver
    // to a guest that never exits (docs/kvm-backend-notes.md, "Linux"): preset lpj, noapictimer.
    std::optional<std::string> append = effective_append(options, image);
    if (!options.append && image.is_linux)
        append = *append + " panic=-1 lpj=2000000 noapictimer";
    if (append)
        guest.launcher_args.insert(guest.launcher_args.end(), {"--append", *append});

    std::string why = options.nested ? std::string("--nested") : direct_kvm_unusable();
    if (!why.empty()) {
        if (!options.quiet)
            std::cerr << "afterburn boot: " << why << ": running nested, in an L1 Linux under QEMU TCG" << std::endl;
        return run_nested(guest, options);
    }
    if (!options.quiet)
        std::cerr << "afterburn boot: using this host's /dev/kvm directly" << std::endl;
    std::vector<std::string> argv{guest.afterburn_kvm.string()};
    if (guest.wedge)
        argv.insert(argv.end(), {"--wedge", guest.wedge->string()});
    argv.insert(argv.end(), guest.launcher_args.begin(), guest.launcher_args.end());
    if (options.initrd)
        argv.insert(argv.end(), {"--initrd", options.initrd->string()});
    argv.push_back(options.image.string());
    return run_vmm(argv, options, {"afterburn-kvm", describe_afterburn_kvm_exit, std::nullopt});
}

} // namespace afterburn::launcher
