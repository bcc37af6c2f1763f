// The L4 backend: QEMU TCG boots L4Ka::Pistachio through kickstart (multiboot), with the L4
// wedge (l4-wedge.elf) as the root task and the guest as the next module; the wedge loads
// and rewrites the guest (backends/l4/wedge, docs/l4-backend.md). Pistachio is the user's
// build (backends/l4/build-pistachio.sh), never part of this project.
#include "backend.h"
#include "install_layout.h"
#include "qemu_command.h"
#include "vmm_session.h"

#include <stdlib.h>
#include <unistd.h>

#include <iostream>

namespace afterburn::launcher {

namespace {

// QEMU's -initrd takes "FILE ARGS,FILE ARGS": a path with a comma or a space cannot be named
// there. Links with plain names in a temporary directory can, whatever the real paths are.
class module_links {
public:
    ~module_links()
    {
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }
    // The link's path, or an empty path (with why in `error`) when it cannot be made.
    std::filesystem::path add(const std::string& name, const std::filesystem::path& target, std::string& error)
    {
        std::error_code ec;
        if (dir_.empty()) {
            std::string tmpl = (std::filesystem::temp_directory_path() / "afterburn-l4-XXXXXX").string();
            if (!::mkdtemp(tmpl.data())) {
                error = "cannot create a temporary directory for the boot modules";
                return {};
            }
            dir_ = tmpl;
        }
        std::filesystem::path link = dir_ / name;
        std::filesystem::create_symlink(std::filesystem::absolute(target), link, ec);
        if (ec) {
            error = "cannot link " + target.string() + ": " + ec.message();
            return {};
        }
        return link;
    }

private:
    std::filesystem::path dir_;
};

// --pistachio, else $AFTERBURN_PISTACHIO; empty when neither is given.
std::filesystem::path pistachio_dir(const boot_options& options)
{
    if (options.pistachio) return *options.pistachio;
    const char* env = ::getenv("AFTERBURN_PISTACHIO");
    return env && *env ? std::filesystem::path(env) : std::filesystem::path();
}

} // namespace

int boot_l4(const boot_options& options, const image_info& image)
{
    const std::filesystem::path dir = pistachio_dir(options);
    if (dir.empty()) {
        std::cerr << "afterburn boot: L4 not available on this machine: no Pistachio build: give --pistachio DIR "
                     "or AFTERBURN_PISTACHIO=DIR, DIR being the OUT of backends/l4/build-pistachio.sh SRC OUT "
                     "(docs/l4-backend.md)"
                  << std::endl;
        return exit_unavailable;
    }
    std::error_code ec;
    for (const char* f : {"kickstart", "x86-kernel", "sigma0"}) {
        if (!std::filesystem::is_regular_file(dir / f, ec)) {
            std::cerr << "afterburn boot: error: " << (dir / f).string()
                      << " not found: the Pistachio directory must be the OUT of backends/l4/build-pistachio.sh"
                      << std::endl;
            return exit_usage;
        }
    }
    const auto wedge = helper_path("l4-wedge.elf");
    if (!std::filesystem::is_regular_file(wedge, ec)) {
        std::cerr << "afterburn boot: error: " << wedge.string()
                  << " is missing: build the project (target l4-wedge) or install it" << std::endl;
        return exit_usage;
    }
    if (image.kind == image_kind::bzimage) {
        std::cerr << "afterburn boot: error: the L4 wedge loads an ELF kernel (vmlinux), not a bzImage" << std::endl;
        return exit_usage;
    }
    module_links links;
    std::string error;
    std::string modules;
    auto add = [&](const std::string& name, const std::filesystem::path& target, const std::string& args) {
        std::filesystem::path link = links.add(name, target, error);
        if (link.empty()) return false;
        modules += (modules.empty() ? "" : ",") + link.string() + (args.empty() ? "" : " " + args);
        return true;
    };
    // kickstart's order: kernel, sigma0, root task (ELF-loaded), then plain modules: the
    // guest, the initrd. The wedge reads its options from its own module's command line.
    if (!add("x86-kernel", dir / "x86-kernel", "") || !add("sigma0", dir / "sigma0", "") ||
        !add("l4-wedge", wedge, "memory=" + std::to_string(options.memory_mb)) ||
        !add("guest", options.image, "") || (options.initrd && !add("initrd", *options.initrd, ""))) {
        std::cerr << "afterburn boot: error: " << error << std::endl;
        return exit_usage;
    }
    // Guest RAM comes out of sigma0's memory: the machine has what the guest asks for and
    // 128 MiB for kickstart, the kernel, sigma0, the modules and the wedge.
    std::vector<std::string> argv = {qemu_binary(), "-accel", "tcg", "-cpu", options.cpu,
                                     "-m", std::to_string(options.memory_mb + 128), "-display", "none",
                                     "-monitor", "none", "-no-reboot", "-nographic", "-serial", "stdio",
                                     "-kernel", (dir / "kickstart").string(), "-initrd", modules};
    argv.insert(argv.end(), options.qemu_args.begin(), options.qemu_args.end());
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", through the L4 wedge as Pistachio's root task"
                  << std::endl;
    vmm_kind qemu{"QEMU", describe_qemu_exit, std::nullopt};
    // Pistachio is built to enter its debugger before the first user thread (KDB_ON_STARTUP,
    // docs/l4-backend.md): "g" at its prompt lets sigma0 and the wedge run. Its debug kernel
    // also stops when a user thread touches the kernel's half of the address space (a guest
    // address the wedge's relocation does not cover): "g" again, and the fault goes to the
    // wedge as a page-fault IPC.
    // The sample guest's isolation check probes five such addresses from ring 3; eight
    // replies cover it (each is sent once, in order).
    qemu.replies = {{"KD# System started", "g"}};
    for (int i = 0; i < 8; ++i) qemu.replies.push_back({"KD# user touches kernel area", "g"});
    // Anything else that stops the machine ends the run at once, not at the timeout: kickstart's
    // "PANIC: FAIL in line N" (e.g. a module over the kernel's load address), the kernel's
    // "PANIC in ...", and every other entry into its debugger ('--- "KD# ...'), which waits for keys.
    qemu.stop_line_prefixes = {"PANIC", "--- \"KD# ", "--- KD# "};
    return run_vmm(argv, options, qemu);
}

} // namespace afterburn::launcher
