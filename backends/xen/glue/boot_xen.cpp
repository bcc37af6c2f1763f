// The Xen backend: Debian's Xen 4.17 boots the Xen wedge (xen-wedge.elf) as a 64-bit PV dom0
// under QEMU TCG; the guest is its boot module, which the wedge loads, rewrites and runs
// (backends/xen, docs/xen-backend.md). The wedge ends the run with its verdict.
#include "backend.h"
#include "install_layout.h"
#include "xen_dom0.h"

#include "module_pack.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

namespace afterburn::launcher {

namespace {

// Xen gives dom0 one boot module: the kernel and its initrd go into one pack
// (backends/xen/module_pack.h) in a temporary file, removed when the run ends.
class packed_module {
public:
    ~packed_module()
    {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove(path_, ec);
    }
    // An empty string on success, else what went wrong.
    std::string write(const std::filesystem::path& kernel, const std::filesystem::path& initrd)
    {
        auto read = [](const std::filesystem::path& p, std::vector<char>& out) {
            std::ifstream in(p, std::ios::binary);
            out.assign(std::istreambuf_iterator<char>(in), {});
            return in.good() || in.eof();
        };
        std::vector<char> k, i;
        if (!read(kernel, k)) return "cannot read '" + kernel.string() + "'";
        if (!read(initrd, i)) return "cannot read initrd '" + initrd.string() + "'";
        if (i.empty()) return "initrd '" + initrd.string() + "' is empty";
        auto page = [](uint64_t v) { return (v + 4095) & ~uint64_t(4095); };
        xen_module::header h{};
        std::copy(std::begin(xen_module::magic), std::end(xen_module::magic), h.magic);
        h.kernel_offset = xen_module::header_bytes;
        h.kernel_size = k.size();
        h.initrd_offset = page(h.kernel_offset + k.size());
        h.initrd_size = i.size();
        path_ = std::filesystem::temp_directory_path() / ("afterburn-xen-module-" + std::to_string(::getpid()));
        std::ofstream out(path_, std::ios::binary | std::ios::trunc);
        std::vector<char> head(xen_module::header_bytes, 0);
        std::copy_n(reinterpret_cast<const char*>(&h), sizeof h, head.begin());
        out.write(head.data(), static_cast<std::streamsize>(head.size()));
        out.write(k.data(), static_cast<std::streamsize>(k.size()));
        std::vector<char> pad(h.initrd_offset - h.kernel_offset - k.size(), 0);
        out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
        out.write(i.data(), static_cast<std::streamsize>(i.size()));
        out.close();
        if (!out) return "cannot write " + path_.string();
        return {};
    }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

} // namespace

int boot_xen(const boot_options& options, const image_info& image)
{
    if (std::string why = not_bootable_by_qemu(image, options.image); !why.empty()) {
        std::cerr << "afterburn boot: error: " << why << std::endl;
        return exit_usage;
    }
    const auto wedge = helper_path("xen-wedge.elf");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(wedge, ec)) {
        std::cerr << "afterburn boot: error: " << wedge.string()
                  << " is missing: build the project (target xen-wedge) or install it" << std::endl;
        return exit_usage;
    }
    // Without annotations every sensitive instruction traps: slow, and the sign of a kernel
    // not built with the toolchain. Run it only when the user asks for exactly that.
    if (!image.annotated && !options.trap_and_emulate) {
        std::cerr << "afterburn boot: error: " << options.image.string()
                  << " has no Afterburn annotation note (.note.afterburn, docs/annotation-format.md): the Xen "
                     "wedge would rewrite nothing and trap every sensitive instruction. Build it with afterburn-cc "
                     "(afterburn build-linux), or pass --trap-and-emulate to run it on the fallback alone"
                  << std::endl;
        return exit_usage;
    }
    dom0_boot boot;
    boot.kernel = wedge;
    // Wedge options before "--" (guest: boot the module through the wedge), the guest's after.
    // Linux: a panic reboots at once (the wedge ends the run on the reset, with its counters)
    // instead of spinning until the wedge's stall watchdog or the timeout.
    std::string append = options.append ? *options.append
                                        : std::string(image.is_linux ? "console=ttyS0 panic=-1" : "console=ttyS0");
    // Direct paging needs the guest's page-table accesses annotated; without them the guest's
    // tables would hold machine frames it then reads. Shadow paging is the fallback.
    std::string paging = options.paging;
    if (paging == "direct" && !image.page_table_sites) {
        std::cerr << "afterburn boot: " << options.image.string()
                  << " has no page-table sites (built without the compiler pass): shadow paging instead of direct"
                  << std::endl;
        paging = "shadow";
    }
    // pt-sites as asked (the launcher's default is stores, the wedge's native), and always
    // wedge under direct paging: the wedge translates the entries there.
    const std::string pt_sites = paging == "direct" ? "wedge" : options.pt_sites;
    boot.cmdline = "guest memory=" + std::to_string(options.memory_mb) + (paging == "direct" ? " paging=direct" : "") +
                   (pt_sites != "native" ? " pt-sites=" + pt_sites : "") +
                   (options.verify_shadow ? " shadow-verify" : "") + " -- " + append;
    boot.module = std::filesystem::absolute(options.image);
    packed_module pack;
    if (options.initrd) {
        if (std::string why = pack.write(options.image, *options.initrd); !why.empty()) {
            std::cerr << "afterburn boot: error: " << why << std::endl;
            return exit_usage;
        }
        boot.module = pack.path();
    }
    // The guest's memory comes out of dom0's: give the domain what the guest asks for and more.
    boot.dom0_mb = std::max(options.memory_mb, 64u) + 64;
    boot.cpu = options.cpu;
    boot.xen_options = "loglvl=all guest_loglvl=all"; // everything Xen says about the wedge
    boot.qemu_args = options.qemu_args;
    boot.dom0_is_wedge = true;
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", through the Xen wedge as Xen's PV dom0"
                  << std::endl;
    return run_xen_dom0(boot, options);
}

int boot_xen_dom0(const boot_options& options, const image_info& image)
{
    if (image.kind == image_kind::bzimage || !image.xen_pv) {
        std::cerr << "afterburn boot: error: '" << options.image.string()
                  << "' is not a Xen PV kernel (no Xen entry note, XEN_ELFNOTE_ENTRY)" << std::endl;
        return exit_usage;
    }
    dom0_boot boot;
    boot.kernel = std::filesystem::absolute(options.image);
    boot.cmdline = options.append.value_or("");
    if (options.initrd)
        boot.module = std::filesystem::absolute(*options.initrd);
    boot.dom0_mb = options.memory_mb;
    boot.cpu = options.cpu;
    boot.xen_options = "loglvl=all guest_loglvl=all";
    boot.qemu_args = options.qemu_args;
    if (!options.quiet)
        std::cerr << "afterburn boot: " << image.description << ", as Xen's PV dom0" << std::endl;
    return run_xen_dom0(boot, options);
}

} // namespace afterburn::launcher
