#include "cli.h"

#include <charconv>
#include <cmath>
#include <utility>

namespace afterburn::launcher {

std::string usage_text()
{
    return R"(Usage: afterburn boot --on BACKEND IMAGE [options]

Boots IMAGE and watches its serial console. Exits 0 only when a console line starts
with the success marker; a line starting with AFTERBURN-FAILURE, a kernel panic, QEMU
exiting first, or the timeout make it fail with a one-line reason and the last console lines.

  --on BACKEND      where to run: native (QEMU TCG, no hypervisor), or kvm (the KVM wedge
                    under afterburn-kvm: this host's /dev/kvm if it can run guests, else nested
                    in an L1 Linux under QEMU TCG, see "Nested KVM" below; exit status 4 when
                    neither is possible),
                    or xen (Xen 4.17 under QEMU TCG, the Xen wedge as PV dom0 runs the guest;
                    --append is the guest's command line, default console=ttyS0, for Linux
                    console=ttyS0 panic=-1),
                    or xen-dom0 (IMAGE itself, a Xen PV kernel, as Xen 4.17's PV dom0 under
                    QEMU TCG; --initrd is its second boot module, --append its command line),
                    or xenolinux (a para-virtualized Linux, build-linux --xenolinux, as Xen
                    4.17's PV dom0 under QEMU TCG; default --append console=hvc0),
                    or l4 (L4Ka::Pistachio under QEMU TCG, the L4 wedge as its root task
                    loads, rewrites and runs the guest as an L4 thread; the sample guest
                    passes its checks, Linux does not run yet: docs/l4-backend.md)
  IMAGE             an ELF with a PVH entry note (Linux vmlinux built with CONFIG_PVH,
                    the sample guest) or a multiboot header, or a Linux bzImage
  --initrd FILE     initial ramdisk (e.g. the initramfs.cpio.gz of `afterburn build-linux`)
  --append ARGS     kernel command line; default for Linux images: console=ttyS0
                    no_timer_check (kvm adds panic=-1 lpj=2000000 noapictimer; xen and
                    xenolinux: above), none for other images
  --timeout S       give up after S seconds (default 120; kvm nested: the guest's, the L1's
                    boot gets 60 s more)
  --cpu MODEL       QEMU CPU model (default max; kvm nested: the L1's, e.g. max,-svm shows
                    the skip when the L1 has no SVM)
  --memory MB       guest memory (default 256)
  --marker TEXT     success marker (default AFTERBURN-SUCCESS)
  --qemu-arg ARG    extra QEMU argument, may be repeated (appended after ours)
  --log FILE        also write the raw console output to FILE
  -q, --quiet       do not stream the console to stdout
  --trap-and-emulate  xen, kvm: boot an image without Afterburn annotations (a stock kernel)
                    on the wedge's trap-and-emulate fallback alone; refused without it
  --no-wedge        kvm: run IMAGE under afterburn-kvm without the KVM wedge (every sensitive
                    instruction traps to afterburn-kvm; to compare with the wedge)
  --nested          kvm: run nested even when this host's /dev/kvm could run guests
  --pt-sites MODE   xen, what becomes of the page-table accesses the compiler pass annotated:
                    stores (default: each page_table_store site calls the wedge, which makes
                    the store and so knows the guest's tables are unchanged when a process is
                    switched back to; loads run as they are, on the shadow page tables),
                    native (all run as they are: each switch checks the shadow it keeps) or
                    wedge (the wedge performs every page_table_store/_load site — the base of
                    direct paging; a developer knob, not direct paging)
  --verify-shadow   xen, shadow paging: check the shadow of every process switched back to even
                    where the wedge saw no page-table store since its last check; the first
                    check that finds a change stops the run (exit 1), naming the CR3: a store
                    to the guest's tables bypassed the compiler pass's page_table_store sites.
                    Slower
  --pistachio DIR   l4: the OUT of backends/l4/build-pistachio.sh (kickstart, x86-kernel,
                    sigma0); default $AFTERBURN_PISTACHIO
  --paging MODE     xen: shadow (default: the wedge runs copies of the guest's page tables)
                    or direct (Xen runs the guest's own tables, translated at the page-table
                    sites the compiler pass annotated; implies --pt-sites wedge; an image
                    without those sites falls back to shadow: docs/xen-direct-paging.md)
  -h, --help        this text

Exit status: 0 success, 1 the guest failed or timed out, 2 bad usage or input,
3 QEMU could not be started, 4 the backend is not available on this machine. QEMU is taken from $AFTERBURN_QEMU, else qemu-system-x86_64.
Nested KVM: QEMU TCG boots an L1 Debian kernel (-cpu max: an emulated SVM CPU) whose KVM
(kvm_amd nested=1) runs afterburn-kvm; the L1 system (Debian's kernel, an initramfs with the
modules and afterburn-kvm) is built by share/afterburn/l1/build-l1.sh into $AFTERBURN_KVM_L1_CACHE,
else share/afterburn/kvm-l1 when that exists (a build tree's), else $XDG_CACHE_HOME/afterburn/kvm-l1,
else ~/.cache/afterburn/kvm-l1.
--log gets the L1's whole console, the guest's with it. afterburn-kvm is $AFTERBURN_KVM, else
libexec/afterburn/afterburn-kvm.
Xen: the hypervisor is $AFTERBURN_XEN_GZ, else /boot/xen-4.17-amd64.gz, gunzipped once into
$AFTERBURN_XEN_CACHE, else $XDG_CACHE_HOME/afterburn, else ~/.cache/afterburn. Helpers (the
wedges, afterburn-kvm) are found next to this program, in libexec/afterburn/.
)";
}

namespace {

bool parse_unsigned(const std::string& text, unsigned& out)
{
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

bool parse_seconds(const std::string& text, double& out)
{
    try {
        std::size_t used = 0;
        out = std::stod(text, &used);
        return used == text.size() && std::isfinite(out) && out > 0;
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace

parse_result parse_command_line(const std::vector<std::string>& args)
{
    parse_result result;
    boot_options& o = result.options;
    auto fail = [&](std::string message) {
        result.status = parse_status::error;
        result.error = std::move(message);
        return result;
    };

    bool have_image = false;
    bool paging_given = false, pt_sites_given = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        // Options taking a value accept both "--opt VALUE" and "--opt=VALUE".
        std::string name = arg;
        std::optional<std::string> inline_value;
        if (arg.starts_with("--")) {
            if (auto eq = arg.find('='); eq != std::string::npos) {
                name = arg.substr(0, eq);
                inline_value = arg.substr(eq + 1);
            }
        }
        auto value = [&](std::string& out) -> bool {
            if (inline_value) {
                out = *inline_value;
                return true;
            }
            if (i + 1 >= args.size())
                return false;
            out = args[++i];
            return true;
        };

        std::string v;
        if (name == "-h" || name == "--help") {
            result.status = parse_status::help;
            return result;
        } else if (name == "--trap-and-emulate") {
            o.trap_and_emulate = true;
        } else if (name == "--nested") {
            o.nested = true;
        } else if (name == "--no-wedge") {
            o.no_wedge = true;
        } else if (name == "--verify-shadow") {
            o.verify_shadow = true;
        } else if (name == "-q" || name == "--quiet") {
            o.quiet = true;
        } else if (name == "--on" || name == "--initrd" || name == "--append" || name == "--timeout" ||
                   name == "--cpu" || name == "--memory" || name == "--marker" || name == "--qemu-arg" ||
                   name == "--log" || name == "--pistachio" || name == "--paging" || name == "--pt-sites") {
            if (!value(v))
                return fail("option " + name + " needs a value");
            if (name == "--on") {
                o.backend = v;
            } else if (name == "--initrd") {
                o.initrd = v;
            } else if (name == "--append") {
                o.append = v;
            } else if (name == "--timeout") {
                if (!parse_seconds(v, o.timeout_s))
                    return fail("--timeout wants a positive number of seconds, got '" + v + "'");
            } else if (name == "--cpu") {
                if (v.empty())
                    return fail("--cpu wants a CPU model name");
                o.cpu = v;
            } else if (name == "--memory") {
                if (!parse_unsigned(v, o.memory_mb) || o.memory_mb < 16)
                    return fail("--memory wants a size in MiB (at least 16), got '" + v + "'");
            } else if (name == "--marker") {
                if (v.empty())
                    return fail("--marker must not be empty");
                o.marker = v;
            } else if (name == "--qemu-arg") {
                o.qemu_args.push_back(v);
            } else if (name == "--log") {
                o.log = v;
            } else if (name == "--pistachio") {
                o.pistachio = v;
            } else if (name == "--paging") {
                if (v != "shadow" && v != "direct")
                    return fail("--paging wants shadow or direct, got '" + v + "'");
                o.paging = v;
                paging_given = true;
            } else if (name == "--pt-sites") {
                if (v != "native" && v != "stores" && v != "wedge")
                    return fail("--pt-sites wants native, stores or wedge, got '" + v + "'");
                o.pt_sites = v;
                pt_sites_given = true;
            }
        } else if (arg.starts_with("-") && arg != "-") {
            return fail("unknown option '" + arg + "'");
        } else if (have_image) {
            return fail("more than one IMAGE given ('" + o.image.string() + "' and '" + arg + "')");
        } else {
            o.image = arg;
            have_image = true;
        }
    }
    if (o.backend.empty())
        return fail("missing --on BACKEND (available: native, kvm, xen, xen-dom0, xenolinux, l4)");
    if (!have_image)
        return fail("missing IMAGE");
    if (o.trap_and_emulate && o.backend != "xen" && o.backend != "kvm")
        return fail("--trap-and-emulate is for --on xen or kvm (the wedge's fallback), not --on " + o.backend);
    for (auto [set, option] : {std::pair{o.nested, "--nested"}, std::pair{o.no_wedge, "--no-wedge"}})
        if (set && o.backend != "kvm")
            return fail(std::string(option) + " is for --on kvm, not --on " + o.backend);
    if (o.pistachio && o.backend != "l4")
        return fail("--pistachio is for --on l4, not --on " + o.backend);
    if (paging_given && o.backend != "xen")
        return fail("--paging is for --on xen, not --on " + o.backend);
    if (o.verify_shadow && o.backend != "xen")
        return fail("--verify-shadow is for --on xen (its shadow paging), not --on " + o.backend);
    if (pt_sites_given && o.backend != "xen")
        return fail("--pt-sites is for --on xen (its wedge performs page-table sites), not --on " + o.backend);
    if (o.paging == "direct" && o.pt_sites == "native" && pt_sites_given)
        return fail("--paging direct needs the page-table sites in the wedge: not with --pt-sites native");
    if (o.no_wedge && o.trap_and_emulate)
        return fail("--no-wedge runs no wedge, so there is no fallback for --trap-and-emulate");
    return result;
}

} // namespace afterburn::launcher
