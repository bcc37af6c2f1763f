#include "xen_dom0.hpp"
#include "process.hpp"
#include "qemu_command.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
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

std::variant<std::filesystem::path, XenError> unpacked_xen(const std::filesystem::path& xen_gz,
                                                           const std::filesystem::path& cache_dir)
{
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    if (ec)
        return XenError{"cannot create " + cache_dir.string() + ": " + ec.message()};
    auto xen = cache_dir / xen_gz.stem(); // xen-4.17-amd64.gz -> xen-4.17-amd64
    auto gz_time = std::filesystem::last_write_time(xen_gz, ec);
    if (ec)
        return XenError{"cannot read " + xen_gz.string() + ": " + ec.message()};
    if (std::filesystem::file_size(xen, ec) > 0 && !ec && std::filesystem::last_write_time(xen, ec) >= gz_time && !ec)
        return xen;

    // gzip -dc into a temporary file, renamed into place once complete.
    auto tmp = xen;
    tmp += ".tmp." + std::to_string(::getpid());
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
        return XenError{"cannot write " + tmp.string()};
    std::optional<ExitStatus> st;
    try {
        ChildProcess gzip({"gzip", "-dc", xen_gz.string()});
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
        return XenError{std::string("cannot run gzip: ") + e.what()};
    }
    out.close();
    if (!st->exited || st->code != 0 || !out) {
        std::filesystem::remove(tmp, ec);
        return XenError{"gzip -dc " + xen_gz.string() + " failed (" + st->describe() + ")"};
    }
    std::filesystem::rename(tmp, xen, ec);
    if (ec)
        return XenError{"cannot rename " + tmp.string() + ": " + ec.message()};
    return xen;
}

std::string xen_command_line(unsigned dom0_mb)
{
    // console=com1: Xen's console, and dom0's CONSOLEIO output with it, on COM1.
    // no-real-mode, ucode=no, cpufreq=none, iommu=0: nothing of that exists under QEMU, and
    // probing it costs boot time. bootscrub=0: do not scrub free RAM under TCG.
    const std::string mb = std::to_string(dom0_mb);
    return "console=com1 com1=115200,8n1 dom0_mem=" + mb + "M,max:" + mb +
           "M dom0_max_vcpus=1 no-real-mode bootscrub=0 ucode=no cpufreq=none iommu=0";
}

std::string xen_dom0_cpu(const std::string& cpu)
{
    // Measured: with QEMU TCG's SMAP, a Linux PV dom0 dies at its first exception (Xen takes a
    // #PF in create_bounce_frame writing the guest's stack). DESIGN.md: "-cpu max,-smap".
    return cpu == "max" ? "max,-smap" : cpu;
}

std::string dom0_module_problem(const BootOptions& options)
{
    std::vector<std::filesystem::path> paths{options.image};
    if (options.initrd)
        paths.push_back(*options.initrd);
    for (const auto& p : paths)
        if (p.string().find_first_of(", ") != std::string::npos)
            return "'" + p.string() + "' holds a ',' or ' ', which QEMU's multiboot module list cannot carry";
    return {};
}

std::vector<std::string> xen_dom0_qemu_argv(const BootOptions& options, const std::filesystem::path& xen,
                                            const std::string& dom0_cmdline)
{
    // Xen drops the first word of a module's string (its name); the rest of the first module's
    // string is dom0's command line. The second module is dom0's initrd.
    std::string modules = options.image.string() + " " + dom0_cmdline;
    if (options.initrd)
        modules += "," + options.initrd->string();
    std::vector<std::string> argv = {
        qemu_binary(),
        "-accel", "tcg",
        "-cpu", xen_dom0_cpu(options.cpu),
        "-m", std::to_string(options.memory_mb + xen_own_mb),
        "-nographic",
        "-no-reboot",                 // dom0's reboot makes Xen reset the machine: QEMU exits
        "-serial", "stdio",           // COM1: Xen's console and, through it, dom0's
        "-monitor", "none",
        "-kernel", xen.string(),
        "-append", xen_command_line(options.memory_mb),
        "-initrd", modules,
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
    };
    argv.insert(argv.end(), options.qemu_args.begin(), options.qemu_args.end());
    return argv;
}

} // namespace afterburn::launcher
