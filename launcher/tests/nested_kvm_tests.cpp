// Unit tests of the nested KVM runner's pure parts (backends/linux/glue): the guest archive's
// bytes, the L1's initramfs layout, the L1's marker lines, its QEMU command line, the retry rule.
#include <catch2/catch.hpp>

#include "cli.h"
#include "l1_markers.h"
#include "nested_l1.h"
#include "newc_archive.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unistd.h>

using namespace afterburn::launcher;

namespace {

std::string hex8(unsigned v)
{
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08X", v);
    return buf;
}

// A newc header as the format defines it, field by field (ino, mode, uid, gid, nlink, mtime,
// filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check).
std::string header(unsigned ino, unsigned mode, unsigned nlink, unsigned size, unsigned namesize)
{
    std::string h = "070701";
    for (unsigned f : {ino, mode, 0u, 0u, nlink, 0u, size, 0u, 0u, 0u, 0u, namesize, 0u})
        h += hex8(f);
    return h;
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir()
    {
        std::string t = (std::filesystem::temp_directory_path() / "nested-kvm-test.XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()));
        path = t;
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    std::filesystem::path write(const std::string& name, const std::string& bytes) const
    {
        std::ofstream(path / name, std::ios::binary) << bytes;
        return path / name;
    }
};

std::string slurp(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("newc: headers, names and bodies padded to 4 bytes, the trailer last")
{
    std::ostringstream out;
    newc_writer w(out);
    w.directory("guest");
    w.file("guest/args", "a\n");
    w.finish();
    // Offsets: 0 + 110 + 6 = 116 (aligned); 116 + 110 + 11 = 237, padded to 240; the body 240 + 2,
    // padded to 244; 244 + 110 + 11 = 365, padded to 368.
    const std::string want = header(1, 040755, 2, 0, 6) + std::string("guest\0", 6) +
                             header(2, 0100644, 1, 2, 11) + std::string("guest/args\0", 11) + std::string(3, '\0') +
                             "a\n" + std::string(2, '\0') +
                             header(3, 0, 1, 0, 11) + std::string("TRAILER!!!\0", 11) + std::string(3, '\0');
    CHECK(out.str() == want);
    CHECK(w.size() == 368);
    CHECK(w.size() % 4 == 0);
    CHECK_THROWS(w.file("late", ""));
}

TEST_CASE("the L1's initramfs: the base archive, NULs to a 4-byte boundary, the guest archive")
{
    temp_dir t;
    nested_guest g;
    g.image = t.write("guest.elf", "ELF!");
    g.launcher_args = {"--stats", "--append", "console=ttyS0 panic=-1"};
    for (std::size_t base_size : {5u, 8u}) {
        INFO("base of " << base_size << " bytes");
        const std::string base(base_size, '\x1f');
        const auto base_path = t.write("base.cpio.gz", base);
        REQUIRE(write_l1_initramfs(t.path / "l1.cpio", base_path, g).empty());
        std::ostringstream guest_archive;
        newc_writer w(guest_archive);
        w.directory("guest");
        w.file("guest/guest.elf", "ELF!");
        w.file("guest/args", "--stats\n--append\nconsole=ttyS0 panic=-1\n");
        w.finish();
        const std::size_t aligned = (base_size + 3) / 4 * 4;
        CHECK(slurp(t.path / "l1.cpio") == base + std::string(aligned - base_size, '\0') + guest_archive.str());
    }
    // With the wedge and an initrd, each is a file and afterburn-kvm gets its path in the L1.
    g.wedge = t.write("kvm-wedge.elf", "W");
    g.initrd = t.write("initrd", "R");
    CHECK(l1_launcher_args(g) == std::vector<std::string>{"--stats", "--append", "console=ttyS0 panic=-1", "--wedge",
                                                          "/guest/kvm-wedge.elf", "--initrd", "/guest/initrd"});
    REQUIRE(write_l1_initramfs(t.path / "l1.cpio", t.path / "base.cpio.gz", g).empty());
    const std::string image = slurp(t.path / "l1.cpio");
    CHECK(image.find(std::string("guest/kvm-wedge.elf\0", 20)) != std::string::npos);
    CHECK(image.find(std::string("guest/initrd\0", 13)) != std::string::npos);
    g.initrd = t.path / "missing";
    CHECK(write_l1_initramfs(t.path / "l1.cpio", t.path / "base.cpio.gz", g).find("cannot read") == 0);
}

TEST_CASE("L1 markers: each kind at a line's start, the first one counts, with its arrival time")
{
    const std::vector<std::string> lines = {
        "AFTERBURN-L1-INIT uptime=1.62",
        "AFTERBURN-L1-KVM uptime=2.01 kvm_amd.nested=1",
        "AFTERBURN-L1-RESULTS status=9", // another word
        "AFTERBURN-L1-RESULT status=1 seconds=0.41",
        "AFTERBURN-L1-RESULT status=3 seconds=0.41",
        "AFTERBURN-L1-DONE",
    };
    l1_report r = parse_l1_markers(lines, {4.5, 4.9, 5.0, 5.4, 5.5, 5.6});
    CHECK(r.init_at == 4.5);
    CHECK(r.kvm_at == 4.9);
    CHECK(r.result_status == 1);
    CHECK(r.result_at == 5.4);
    CHECK_FALSE(r.skip_reason);
    CHECK_FALSE(r.error_reason);
    r = parse_l1_markers({"AFTERBURN-L1-INIT uptime=1", "AFTERBURN-L1-SKIP: check 'svm' failed", "AFTERBURN-L1-DONE"});
    CHECK(r.skip_reason == "check 'svm' failed");
    CHECK_FALSE(r.init_at); // no times given
    CHECK_FALSE(r.result_status);
    r = parse_l1_markers({"AFTERBURN-L1-ERROR: insmod kvm.ko failed", "AFTERBURN-L1-RESULT status=x"});
    CHECK(r.error_reason == "insmod kvm.ko failed");
    CHECK_FALSE(r.result_status);
    CHECK_FALSE(parse_l1_markers({"echo AFTERBURN-L1-RESULT status=1 seconds=1"}).result_status);

    const exit_status qemu{true, 1, 0};
    CHECK(describe_l1_exit(qemu, {"AFTERBURN-L1-RESULT status=3 seconds=1"}) ==
          "in the L1, afterburn-kvm exited with status 3 (debug-exit value 1)");
    CHECK(describe_l1_exit(qemu, {"AFTERBURN-L1-RESULT status=14 seconds=1"}) ==
          "in the L1, afterburn-kvm ended the run on the guest's reset request (reboot)");
    CHECK(describe_l1_exit(qemu, {"AFTERBURN-L1-ERROR: no /dev/kvm"}).starts_with("the L1 system is broken: no /dev/kvm (QEMU"));
    CHECK(describe_l1_exit(qemu, {"AFTERBURN-L1-INIT uptime=1"}).starts_with("the L1 gave no result (QEMU exited"));
}

TEST_CASE("the L1's QEMU command line: the TCG machine with the L1 kernel, RAM for both")
{
    boot_options o;
    o.cpu = "max,-svm";
    o.qemu_args = {"-icount", "shift=0"};
    auto argv = l1_qemu_argv(o, "/c/vmlinuz", "/t/l1.cpio");
    std::vector<std::string> tail(argv.begin() + 1, argv.end());
    CHECK(tail == std::vector<std::string>{"-accel", "tcg", "-cpu", "max,-svm", "-m", "1024", "-nographic",
                                           "-no-reboot", "-serial", "stdio", "-monitor", "none", "-kernel",
                                           "/c/vmlinuz", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                                           "-initrd", "/t/l1.cpio", "-append",
                                           "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off no_timer_check", "-icount",
                                           "shift=0"});
    o.memory_mb = 2048;
    argv = l1_qemu_argv(o, "/c/vmlinuz", "/t/l1.cpio");
    CHECK(argv[6] == "2560"); // the guest's RAM and the L1's own
}

TEST_CASE("nested retry: only QEMU's own TCG assertion abort, before any verdict or result")
{
    vmm_run r;
    r.exited_by_itself = true;
    r.status = {false, 0, SIGABRT};
    r.vmm_stderr = "**\nERROR:../accel/tcg/tcg-accel-ops.c:79:tcg_handle_interrupt: assertion failed: "
                   "(qemu_mutex_iothread_locked())\n";
    CHECK(aborted_on_qemu_tcg_assertion(r));
    vmm_run status_134 = r; // as a shell reports it
    status_134.status = {true, 134, 0};
    CHECK(aborted_on_qemu_tcg_assertion(status_134));
    vmm_run on_console = r;
    on_console.vmm_stderr.clear();
    on_console.last_lines = {"x", "ERROR:tcg_handle_interrupt: assertion failed: (x)"};
    CHECK(aborted_on_qemu_tcg_assertion(on_console));
    vmm_run other_abort = r;
    other_abort.vmm_stderr = "ERROR: some other assertion";
    CHECK_FALSE(aborted_on_qemu_tcg_assertion(other_abort));
    vmm_run with_result = r;
    with_result.remembered = {"AFTERBURN-L1-RESULT status=1 seconds=0.4"};
    CHECK_FALSE(aborted_on_qemu_tcg_assertion(with_result));
    vmm_run with_verdict = r;
    with_verdict.verdict = console_verdict::success;
    CHECK_FALSE(aborted_on_qemu_tcg_assertion(with_verdict));
    vmm_run stopped = r; // we killed it (timeout): not QEMU's abort
    stopped.exited_by_itself = false;
    CHECK_FALSE(aborted_on_qemu_tcg_assertion(stopped));
    vmm_run exited = r;
    exited.status = {true, 1, 0};
    CHECK_FALSE(aborted_on_qemu_tcg_assertion(exited));
}

TEST_CASE("nested timing line: host seconds of each L1 marker and of QEMU's end")
{
    vmm_run r;
    r.exited_by_itself = true;
    r.status = {true, 1, 0};
    r.elapsed = 6.004;
    l1_report rep;
    rep.init_at = 4.1;
    rep.kvm_at = 4.456;
    CHECK(l1_timing_line(rep, r) == "host wall time: L1 /init at 4.10 s, KVM ready at 4.46 s, result at ? s, "
                                    "QEMU exited at 6.00 s (exit status 1)");
    r.exited_by_itself = false;
    r.status = {false, 0, SIGKILL};
    CHECK(l1_timing_line(rep, r).ends_with("QEMU stopped at 6.00 s (killed by signal 9 (Killed))"));
}

TEST_CASE("command line: kvm's --nested, --no-wedge, --trap-and-emulate")
{
    auto r = parse_command_line({"--on", "kvm", "g.elf", "--nested", "--no-wedge"});
    REQUIRE(r.status == parse_status::ok);
    CHECK(r.options.nested);
    CHECK(r.options.no_wedge);
    CHECK(parse_command_line({"--on", "kvm", "g.elf", "--trap-and-emulate"}).status == parse_status::ok);
    for (auto args : std::vector<std::vector<std::string>>{{"--on", "native", "g", "--nested"},
                                                           {"--on", "xen", "g", "--no-wedge"},
                                                           {"--on", "native", "g", "--trap-and-emulate"},
                                                           {"--on", "kvm", "g", "--no-wedge", "--trap-and-emulate"}}) {
        INFO(args[1] << " " << args.back());
        CHECK(parse_command_line(args).status == parse_status::error);
    }
}
