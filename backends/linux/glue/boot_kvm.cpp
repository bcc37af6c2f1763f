// The KVM backend: afterburn-kvm runs the guest with the KVM wedge. These machines' /dev/kvm
// is usually a software module that cannot run ordinary guests, so the usual path is nested:
// an L1 Debian kernel under QEMU TCG with kvm_amd nested=1 (backends/linux/l1/run-nested.sh).
#include "backend.h"
#include "install_layout.h"
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

std::string describe_runner_exit(const exit_status& st, const std::vector<std::string>&)
{
    if (!st.exited)
        return "the KVM runner " + st.describe();
    // afterburn-kvm mirrors QEMU's isa-debug-exit convention: (v << 1) | 1.
    if (st.code & 1)
        return "afterburn-kvm exited with status " + std::to_string(st.code) + " (debug-exit value " +
               std::to_string(st.code >> 1) + ")";
    if (st.code == 14)
        return "afterburn-kvm ended the run on the guest's reset request (reboot)";
    return "afterburn-kvm exited with status " + std::to_string(st.code) + " (see docs/kvm-backend-notes.md)";
}

} // namespace

int boot_kvm(const boot_options& options, const image_info& image)
{
    if (std::string why = not_bootable_by_qemu(image, options.image); !why.empty()) {
        std::cerr << "afterburn boot: error: " << why << std::endl;
        return exit_usage;
    }
    const std::string launcher = helper_path("afterburn-kvm"), wedge = helper_path("kvm-wedge.elf");
    for (const auto& p : {launcher, wedge})
        if (!std::filesystem::exists(p)) {
            std::cerr << "afterburn boot: error: " << p << " is missing: build the project or install it" << std::endl;
            return exit_usage;
        }
    if (!image.annotated) {
        std::cerr << "afterburn boot: error: " << options.image.string()
                  << " has no Afterburn annotation note (.note.afterburn, docs/annotation-format.md): the KVM "
                     "wedge would have nothing to rewrite. Build it with afterburn-cc (afterburn build-linux)"
                  << std::endl;
        return exit_usage;
    }
    if (options.initrd && !std::filesystem::is_regular_file(*options.initrd)) {
        std::cerr << "afterburn boot: error: --initrd " << options.initrd->string() << ": no such file" << std::endl;
        return exit_usage;
    }
    std::vector<std::string> launcher_args{"--stats", "--memory", std::to_string(options.memory_mb)};
    // Linux: nested, a pending interrupt may not reach a guest that never exits; a kick every
    // 10 ms makes KVM look again (docs/kvm-backend-notes.md, "Linux"). Not for other guests:
    // with kicks the sample guest's hlt check trips QEMU 7.2's own TCG assertion in the L0.
    if (image.is_linux)
        launcher_args.insert(launcher_args.end(), {"--kick-ms", "10"});
    // Linux: the console is ttyS0, and a panic reboots at once (the launcher ends the run on
    // the reset) instead of hanging until the timeout. lpj: nested, Linux's calibrate_delay()
    // and the local APIC timer calibration busy-wait for timer ticks that nested KVM may not deliver
    // to a guest that never exits (docs/kvm-backend-notes.md, "Linux"): preset lpj, noapictimer.
    std::optional<std::string> append = effective_append(options, image);
    if (!options.append && image.is_linux)
        append = *append + " panic=-1 lpj=2000000 noapictimer";
    if (append)
        launcher_args.insert(launcher_args.end(), {"--append", *append});

    if (std::string why = direct_kvm_unusable(); !why.empty()) {
        if (!options.quiet)
            std::cerr << "afterburn boot: " << why << ": running nested, in an L1 Linux under QEMU TCG"
                      << std::endl;
        const std::string run_nested = data_path("l1/run-nested.sh");
        if (!std::filesystem::exists(run_nested)) {
            std::cerr << "afterburn boot: error: " << run_nested
                      << " is missing: the nested KVM runner is neither built nor installed here" << std::endl;
            return exit_usage;
        }
        // run-nested.sh reads its settings from the environment. The L1 system is cached in
        // $AFTERBURN_KVM_L1_CACHE, else share/afterburn/kvm-l1 (a build tree links its cache
        // there), else ~/.cache/afterburn/kvm-l1.
        const char* l1_cache = std::getenv("AFTERBURN_KVM_L1_CACHE");
        if (!l1_cache || !*l1_cache) {
            auto cache = data_path("kvm-l1");
            if (!std::filesystem::exists(cache)) {
                if (user_cache_dir().empty()) {
                    std::cerr << "afterburn boot: error: nowhere to keep the L1 system for nested KVM: set "
                                 "AFTERBURN_KVM_L1_CACHE (or XDG_CACHE_HOME or HOME)" << std::endl;
                    return exit_usage;
                }
                cache = user_cache_dir() / "kvm-l1";
            }
            ::setenv("AFTERBURN_KVM_L1_CACHE", cache.c_str(), 1);
        }
        ::setenv("NESTED_WEDGE", wedge.c_str(), 1);
        if (options.initrd)
            ::setenv("NESTED_INITRD", std::filesystem::absolute(*options.initrd).c_str(), 1);
        else
            ::unsetenv("NESTED_INITRD");
        ::setenv("AFTERBURN_KVM", launcher.c_str(), 1);
        ::setenv("NESTED_TIMEOUT", std::to_string(static_cast<int>(options.timeout_s) + 30).c_str(), 1);
        std::vector<std::string> argv{run_nested, options.image.string(), "--timeout",
                                      std::to_string(static_cast<int>(options.timeout_s))};
        argv.insert(argv.end(), launcher_args.begin(), launcher_args.end());
        boot_options nested = options;
        nested.timeout_s += 60;  // the L1 system boots first
        return run_vmm(argv, nested, {"nested KVM runner", describe_runner_exit, 77});
    }
    if (!options.quiet)
        std::cerr << "afterburn boot: using this host's /dev/kvm directly" << std::endl;
    std::vector<std::string> argv{launcher, "--wedge", wedge, "--timeout",
                                  std::to_string(static_cast<int>(options.timeout_s))};
    argv.insert(argv.end(), launcher_args.begin(), launcher_args.end());
    if (options.initrd)
        argv.insert(argv.end(), {"--initrd", options.initrd->string()});
    argv.push_back(options.image.string());
    return run_vmm(argv, options, {"afterburn-kvm", describe_runner_exit, std::nullopt});
}

} // namespace afterburn::launcher
