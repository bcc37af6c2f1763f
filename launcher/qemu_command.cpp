#include "qemu_command.h"

#include <cstdlib>

namespace afterburn::launcher {

// isa-debug-exit at 0xf4: a guest `out` of value v there ends QEMU with status (v << 1) | 1.
constexpr const char* debug_exit_device = "isa-debug-exit,iobase=0xf4,iosize=4";

std::string qemu_binary()
{
    const char* override_path = std::getenv("AFTERBURN_QEMU");
    return override_path && *override_path ? override_path : "qemu-system-x86_64";
}

std::optional<std::string> effective_append(const boot_options& options, const image_info& image)
{
    if (options.append)
        return options.append;
    if (image.is_linux)
        // ttyS0: the only console our QEMU setup wires up. no_timer_check: under TCG on a loaded
        // host Linux's IO-APIC timer check sees too few PIT ticks in its busy-wait and panics
        // ("IO-APIC + timer doesn't work!", seen on a fresh clone's linux.e2e); as for the
        // nested L1 (backends/linux/glue/nested_l1.cpp).
        return std::string("console=ttyS0 no_timer_check");
    return std::nullopt;
}

std::vector<std::string> tcg_qemu_argv(const tcg_machine& machine)
{
    // These machines have no usable hardware virtualization: TCG only.
    std::vector<std::string> argv = {
        qemu_binary(),
        "-accel", "tcg",
        "-cpu", machine.cpu,
        "-m", std::to_string(machine.memory_mb),
        "-nographic",
        "-no-reboot",                 // a guest reset ends the run instead of looping
        "-serial", "stdio",           // COM1 is the console we watch
        "-monitor", "none",           // keep the monitor off stdio
        "-kernel", machine.kernel.string(),
        "-device", debug_exit_device,
    };
    if (machine.initrd) {
        argv.push_back("-initrd");
        argv.push_back(machine.initrd->string());
    }
    if (machine.append) {
        argv.push_back("-append");
        argv.push_back(*machine.append);
    }
    argv.insert(argv.end(), machine.extra.begin(), machine.extra.end());
    return argv;
}

std::vector<std::string> native_qemu_argv(const boot_options& options, const image_info& image)
{
    return tcg_qemu_argv({options.cpu, options.memory_mb, options.image, options.initrd,
                          effective_append(options, image), options.qemu_args});
}

std::string shell_quote_join(const std::vector<std::string>& argv)
{
    std::string out;
    for (const auto& arg : argv) {
        if (!out.empty())
            out += ' ';
        bool plain = !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                           "0123456789-_=,./:+@%") == std::string::npos;
        if (plain) {
            out += arg;
            continue;
        }
        out += '\'';
        for (char c : arg) {
            if (c == '\'')
                out += "'\\''";
            else
                out += c;
        }
        out += '\'';
    }
    return out;
}

} // namespace afterburn::launcher
