#include "nested_l1.h"
#include "backend.h"
#include "install_layout.h"
#include "l1_system.h"
#include "newc_archive.h"
#include "qemu_command.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace afterburn::launcher {

namespace {

// The L1 kernel's command line: its console on ttyS0 (QEMU's stdio), quiet, and a panic ends
// QEMU (-no-reboot) instead of hanging until the timeout. no_timer_check: on a loaded host
// the L1's IO-APIC timer check under TCG sees too few ticks and panics ("IO-APIC + timer
// doesn't work!", 2 of the first 16 runs of a soak beside a CI build).
constexpr const char* l1_append = "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off no_timer_check";
// The L1 needs its own RAM besides the guest's.
constexpr unsigned l1_min_mb = 1024, l1_own_mb = 512;
// The L1 boots (QEMU start to /init: ~5 s, docs/kvm-backend-notes.md) before the guest's
// --timeout starts counting in afterburn-kvm; QEMU's deadline is the guest's plus this.
constexpr double l1_boot_allowance_s = 60;

std::optional<std::string> read_file(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
        return std::nullopt;
    return bytes;
}

// A per-run directory (concurrent runs must not share the L1's initramfs), removed at the end.
class scratch_dir {
public:
    scratch_dir()
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "afterburn-l1.XXXXXX").string();
        if (::mkdtemp(tmpl.data()))
            path_ = tmpl;
    }
    ~scratch_dir()
    {
        std::error_code ec;
        if (!path_.empty())
            std::filesystem::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::string seconds_or_unknown(const std::optional<double>& s)
{
    if (!s)
        return "?";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", *s);
    return buf;
}

} // namespace

std::vector<std::string> l1_launcher_args(const nested_guest& guest)
{
    std::vector<std::string> args = guest.launcher_args;
    if (guest.wedge)
        args.insert(args.end(), {"--wedge", "/guest/kvm-wedge.elf"});
    if (guest.initrd)
        args.insert(args.end(), {"--initrd", "/guest/initrd"});
    return args;
}

std::string write_l1_initramfs(const std::filesystem::path& out, const std::filesystem::path& base,
                               const nested_guest& guest)
{
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    if (!file)
        return "cannot write " + out.string();
    std::ifstream base_in(base, std::ios::binary);
    if (!base_in)
        return "cannot read " + base.string();
    file << base_in.rdbuf();
    const auto base_size = static_cast<std::uint64_t>(file.tellp());
    file.write("\0\0\0", static_cast<std::streamsize>((4 - base_size % 4) % 4));

    newc_writer archive(file);
    archive.directory("guest");
    const std::pair<const char*, std::optional<std::filesystem::path>> files[] = {
        {"guest/guest.elf", guest.image}, {"guest/kvm-wedge.elf", guest.wedge}, {"guest/initrd", guest.initrd}};
    for (const auto& [name, source] : files) {
        if (!source)
            continue;
        auto bytes = read_file(*source);
        if (!bytes)
            return "cannot read " + source->string();
        archive.file(name, *bytes);
    }
    std::string args;
    for (const auto& a : l1_launcher_args(guest))
        args += a + "\n";
    archive.file("guest/args", args);
    archive.finish();
    file.flush();
    return file ? std::string() : "cannot write " + out.string();
}

std::vector<std::string> l1_qemu_argv(const boot_options& options, const std::filesystem::path& vmlinuz,
                                      const std::filesystem::path& initramfs)
{
    return tcg_qemu_argv({options.cpu, std::max(l1_min_mb, options.memory_mb + l1_own_mb), vmlinuz, initramfs,
                          std::string(l1_append), options.qemu_args});
}

bool aborted_on_qemu_tcg_assertion(const vmm_run& run)
{
    constexpr std::string_view assertion = "tcg_handle_interrupt: assertion failed";
    const exit_status& st = run.status;
    const bool aborted = (!st.exited && st.signal == SIGABRT) || (st.exited && st.code == 128 + SIGABRT);
    if (!run.exited_by_itself || !aborted || run.verdict != console_verdict::pending ||
        parse_l1_markers(run.remembered).result_status)
        return false;
    if (run.vmm_stderr.find(assertion) != std::string::npos)
        return true;
    return std::any_of(run.last_lines.begin(), run.last_lines.end(),
                       [&](const std::string& l) { return l.find(assertion) != std::string::npos; });
}

std::string l1_timing_line(const l1_report& report, const vmm_run& run)
{
    return "host wall time: L1 /init at " + seconds_or_unknown(report.init_at) + " s, KVM ready at " +
           seconds_or_unknown(report.kvm_at) + " s, result at " + seconds_or_unknown(report.result_at) +
           " s, QEMU " + (run.exited_by_itself ? "exited" : "stopped") + " at " + seconds_or_unknown(run.elapsed) +
           " s (" + run.status.describe() + ")";
}

int run_nested(const nested_guest& guest, const boot_options& options)
{
    for (const auto& a : guest.launcher_args)
        if (a.find('\n') != std::string::npos) {
            // /guest/args holds one argument per line.
            std::cerr << "afterburn boot: error: a newline cannot reach afterburn-kvm in the L1: '" << a << "'"
                      << std::endl;
            return exit_usage;
        }
    const auto cache = l1_cache_dir();
    if (cache.empty()) {
        std::cerr << "afterburn boot: error: nowhere to keep the L1 system for nested KVM: set "
                     "AFTERBURN_KVM_L1_CACHE (or XDG_CACHE_HOME or HOME)" << std::endl;
        return exit_usage;
    }
    const auto builder = data_path("l1/build-l1.sh");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(builder, ec)) {
        std::cerr << "afterburn boot: error: " << builder.string()
                  << " is missing: the nested KVM runner is neither built nor installed here" << std::endl;
        return exit_usage;
    }
    scratch_dir scratch;
    if (scratch.path().empty()) {
        std::cerr << "afterburn boot: error: cannot make a directory in "
                  << std::filesystem::temp_directory_path(ec).string() << std::endl;
        return exit_usage;
    }
    const auto initramfs = scratch.path() / "l1.cpio";
    std::filesystem::path vmlinuz;
    {
        auto prepared = prepare_l1_system(cache, builder, guest.afterburn_kvm, options.quiet);
        if (auto* err = std::get_if<l1_error>(&prepared)) {
            std::cerr << "afterburn boot: error: " << err->message << std::endl;
            if (options.quiet)
                std::cerr << err->builder_output << std::flush;
            return exit_guest_failed;
        }
        const auto& system = std::get<l1_system>(prepared);
        if (std::string err = write_l1_initramfs(initramfs, system.base_initramfs(), guest); !err.empty()) {
            std::cerr << "afterburn boot: error: the L1's initramfs: " << err << std::endl;
            return exit_guest_failed;
        }
        vmlinuz = system.vmlinuz();
    } // the cache is unlocked: the initramfs is this run's own; vmlinuz is only replaced whole

    const auto argv = l1_qemu_argv(options, vmlinuz, initramfs);
    boot_options l1_options = options;
    l1_options.timeout_s = options.timeout_s + l1_boot_allowance_s;
    const vmm_kind qemu{"QEMU (nested KVM)", describe_l1_exit, std::nullopt, std::string(l1_marker_prefix)};
    if (!options.quiet)
        std::cerr << "afterburn boot: nested: L1 " << vmlinuz.string() << " + " << cache.string()
                  << "/l1-base.cpio.gz + the guest archive; in the L1: afterburn-kvm "
                  << shell_quote_join(l1_launcher_args(guest)) << " /guest/guest.elf (" << guest.image.string() << ")"
                  << std::endl;
    vmm_run run = watch_vmm(argv, l1_options, qemu);
    if (aborted_on_qemu_tcg_assertion(run)) {
        std::cerr << "afterburn boot: QEMU aborted (its own TCG assertion, before any result): retrying once"
                  << std::endl;
        run = watch_vmm(argv, l1_options, qemu);
    }
    if (run.not_run)
        return *run.not_run;
    const l1_report report = parse_l1_markers(run.remembered, run.remembered_at);
    if (!options.quiet)
        std::cerr << "afterburn boot: " << l1_timing_line(report, run) << std::endl;
    if (run.verdict != console_verdict::success && report.skip_reason) {
        std::cerr << "afterburn boot: KVM not available on this machine: SKIP: nested KVM is not available in the L1: "
                  << *report.skip_reason << std::endl;
        return exit_unavailable;
    }
    return judge_vmm_run(run, l1_options, qemu);
}

} // namespace afterburn::launcher
