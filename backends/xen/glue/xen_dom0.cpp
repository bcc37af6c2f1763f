#include "xen_dom0.h"
#include "process.h"
#include "qemu_command.h"
#include "backend.h"
#include "install_layout.h"
#include "vmm_session.h"

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string_view>
#include <fstream>
#include <unistd.h>

namespace afterburn::launcher {

namespace {

// Xen needs memory of its own besides dom0's; QEMU's RAM is dom0's plus this.
constexpr unsigned xen_own_mb = 256;

} // namespace

std::filesystem::path xen_gz_path()
{
    const char* override_path = std::getenv("AFTERBURN_XEN_GZ");
    return override_path && *override_path ? override_path : "/boot/xen-4.17-amd64.gz";
}

std::variant<std::filesystem::path, xen_error> unpacked_xen(const std::filesystem::path& xen_gz,
                                                            const std::filesystem::path& cache_dir)
{
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    if (ec)
        return xen_error{"cannot create " + cache_dir.string() + ": " + ec.message()};
    auto xen = cache_dir / xen_gz.stem(); // xen-4.17-amd64.gz -> xen-4.17-amd64
    auto gz_time = std::filesystem::last_write_time(xen_gz, ec);
    if (ec)
        return xen_error{"cannot read " + xen_gz.string() + ": " + ec.message()};
    if (std::filesystem::file_size(xen, ec) > 0 && !ec && std::filesystem::last_write_time(xen, ec) >= gz_time && !ec)
        return xen;

    // gzip -dc into a temporary file, renamed into place once complete.
    auto tmp = xen;
    tmp += ".tmp." + std::to_string(::getpid());
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
        return xen_error{"cannot write " + tmp.string()};
    std::optional<exit_status> st;
    try {
        child_process gzip({"gzip", "-dc", xen_gz.string()});
        char buf[65536];
        while (true) {
            ssize_t n = ::read(gzip.stdout_fd(), buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            out.write(buf, n);
        }
        gzip.close_stdout();
        while (!(st = gzip.poll_exit()))
            ::usleep(10000);
    } catch (const std::exception& e) {
        std::filesystem::remove(tmp, ec);
        return xen_error{std::string("cannot run gzip: ") + e.what()};
    }
    out.close();
    if (!st->exited || st->code != 0 || !out) {
        std::filesystem::remove(tmp, ec);
        return xen_error{"gzip -dc " + xen_gz.string() + " failed (" + st->describe() + ")"};
    }
    std::filesystem::rename(tmp, xen, ec);
    if (ec)
        return xen_error{"cannot rename " + tmp.string() + ": " + ec.message()};
    return xen;
}

std::filesystem::path xen_cache_dir()
{
    if (const char* dir = std::getenv("AFTERBURN_XEN_CACHE"); dir && *dir)
        return dir;
    return user_cache_dir();
}

std::string xen_command_line(unsigned dom0_mb, const std::string& extra)
{
    // console=com1: Xen's console, and dom0's CONSOLEIO output with it, on COM1.
    // no-real-mode, ucode=no, cpufreq=none, iommu=0: nothing of that exists under QEMU, and
    // probing it costs boot time. bootscrub=0: do not scrub free RAM under TCG.
    const std::string mb = std::to_string(dom0_mb);
    std::string line = "console=com1 com1=115200,8n1 dom0_mem=" + mb + "M,max:" + mb +
                       "M dom0_max_vcpus=1 no-real-mode bootscrub=0 ucode=no cpufreq=none iommu=0";
    return extra.empty() ? line : line + " " + extra;
}

std::string xen_dom0_cpu(const std::string& cpu)
{
    // Measured: with QEMU TCG's SMAP, a Linux PV dom0 dies at its first exception (Xen takes a
    // #PF in create_bounce_frame writing the guest's stack). DESIGN.md: "-cpu max,-smap".
    return cpu == "max" ? "max,-smap" : cpu;
}

std::string dom0_module_problem(const dom0_boot& boot)
{
    std::vector<std::filesystem::path> paths{boot.kernel};
    if (boot.module)
        paths.push_back(*boot.module);
    for (const auto& p : paths)
        if (p.string().find_first_of(", ") != std::string::npos)
            return "'" + p.string() + "' holds a ',' or ' ', which QEMU's multiboot module list cannot carry";
    if (boot.cmdline.find(',') != std::string::npos)
        return "the command line '" + boot.cmdline + "' holds a ',', which QEMU's multiboot module list cannot carry";
    return {};
}

std::vector<std::string> xen_dom0_qemu_argv(const dom0_boot& boot)
{
    // Xen drops the first word of a module's string (its name); the rest of the first module's
    // string is dom0's command line. The second module is dom0's initrd (or the wedge's guest).
    // Xen is the TCG machine's multiboot kernel, the modules its -initrd; COM1 is Xen's console
    // and, through it, dom0's; dom0's reboot makes Xen reset the machine, which ends QEMU.
    std::string modules = boot.kernel.string() + " " + boot.cmdline;
    if (boot.module)
        modules += "," + boot.module->string();
    tcg_machine machine;
    machine.cpu = boot.cpu;
    machine.memory_mb = boot.dom0_mb + xen_own_mb;
    machine.kernel = boot.xen;
    machine.initrd = modules;
    machine.append = xen_command_line(boot.dom0_mb, boot.xen_options);
    machine.extra = boot.qemu_args;
    return tcg_qemu_argv(machine);
}

std::string describe_xen_exit(const exit_status& st, const std::vector<std::string>& verdict_lines)
{
    if (verdict_lines.empty())
        return describe_qemu_exit(st);
    const std::string status = st.exited ? "QEMU status " + std::to_string(st.code) : "QEMU " + st.describe();
    // The wedge writes its verdict V to isa-debug-exit right after its verdict line, and QEMU
    // exits with (V << 1) | 1. Only when that did not end the machine does it fall back to
    // SCHEDOP_shutdown, saying so.
    if (st.exited && (st.code & 1))
        return "the wedge's verdict " + std::to_string(st.code >> 1) + " (isa-debug-exit)";
    constexpr std::string_view fallback_tail = " via SCHEDOP_shutdown";
    for (auto it = verdict_lines.rbegin(); it != verdict_lines.rend(); ++it) {
        std::string_view rest = std::string_view(*it).substr(std::string_view(wedge_verdict_prefix).size());
        std::size_t digits = rest.find_first_not_of("0123456789");
        if (digits == 0 || digits == std::string_view::npos || rest.substr(digits) != fallback_tail)
            continue;
        return "the wedge's verdict " + std::string(rest.substr(0, digits)) + " (SCHEDOP_shutdown; " + status + ")";
    }
    return "Xen ended without a verdict from the wedge (" + status + ")";
}

std::string describe_wedge_exit(const exit_status& st, const std::vector<std::string>& verdict_lines)
{
    if (verdict_lines.empty())
        return "Xen ended without a verdict from the wedge (" + describe_qemu_exit(st) + ")";
    return describe_xen_exit(st, verdict_lines);
}

int run_xen_dom0(dom0_boot boot, const boot_options& options)
{
    if (std::string problem = dom0_module_problem(boot); !problem.empty()) {
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
    const auto cache = xen_cache_dir();
    if (cache.empty()) {
        std::cerr << "afterburn boot: error: nowhere to keep the gunzipped hypervisor: set AFTERBURN_XEN_CACHE "
                     "(or XDG_CACHE_HOME or HOME)" << std::endl;
        return exit_usage;
    }
    auto xen = unpacked_xen(xen_gz, cache);
    if (auto* err = std::get_if<xen_error>(&xen)) {
        std::cerr << "afterburn boot: error: " << err->message << std::endl;
        return exit_start_failed;
    }
    boot.xen = std::get<std::filesystem::path>(xen);
    return run_vmm(xen_dom0_qemu_argv(boot), options,
                   {"QEMU (Xen)", boot.dom0_is_wedge ? describe_wedge_exit : describe_xen_exit, std::nullopt,
                    wedge_verdict_prefix});
}

} // namespace afterburn::launcher
