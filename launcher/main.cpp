// afterburn boot: boot a guest image on a backend and report whether it reached its marker.
#include "backend.h"
#include "cli.h"
#include "image.h"
#include "process.h"

#include <fcntl.h>
#include <iostream>
#include <unistd.h>

int main(int argc, char** argv)
{
    using namespace afterburn::launcher;
    // CI may start us with standard input closed; a pipe created then would land on fd 0 and
    // lose it at exec (close-on-exec survives a dup2 onto itself), leaving QEMU's -serial stdio
    // without a descriptor. Keep 0-2 occupied.
    for (int fd = 0; fd <= 2; ++fd)
        if (::fcntl(fd, F_GETFD) == -1)
            ::open("/dev/null", O_RDWR);
    const std::vector<std::string> args(argv + 1, argv + argc);
    parse_result parsed = parse_command_line(args);
    if (parsed.status == parse_status::help) {
        std::cout << usage_text();
        return exit_success;
    }
    if (parsed.status == parse_status::error) {
        std::cerr << "afterburn boot: error: " << parsed.error << "\n(see afterburn boot --help)\n";
        return exit_usage;
    }
    const boot_options& options = parsed.options;

    backend_fn backend = find_backend(options.backend);
    if (!backend) {
        std::cerr << "afterburn boot: error: backend " << options.backend
                  << " not available yet (available: native, kvm, xen, xen-dom0, xenolinux, l4)\n";
        return exit_usage;
    }
    auto probed = probe_image(options.image);
    if (auto* err = std::get_if<image_error>(&probed)) {
        std::cerr << "afterburn boot: error: " << err->message << "\n";
        return exit_usage;
    }
    if (options.initrd) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*options.initrd, ec)) {
            std::cerr << "afterburn boot: error: initrd '" << options.initrd->string()
                      << "' does not exist or is not a regular file\n";
            return exit_usage;
        }
    }
    install_signal_handlers();
    return backend(options, std::get<image_info>(probed));
}
