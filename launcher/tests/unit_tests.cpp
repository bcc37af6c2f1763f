// Unit tests of the launcher's pure parts: command line, console watching, QEMU argv.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "cli.h"
#include "console_watcher.h"
#include "qemu_command.h"
#include "xen_dom0.h"

#include <algorithm>

using namespace afterburn::launcher;

TEST_CASE("command line: defaults and every option")
{
    auto r = parse_command_line({"--on", "native", "vmlinux"});
    REQUIRE(r.status == parse_status::ok);
    CHECK(r.options.backend == "native");
    CHECK(r.options.image == "vmlinux");
    CHECK(r.options.timeout_s == 120);
    CHECK(r.options.cpu == "max");
    CHECK(r.options.memory_mb == 256);
    CHECK(r.options.marker == "AFTERBURN-SUCCESS");
    CHECK_FALSE(r.options.append);
    CHECK_FALSE(r.options.quiet);

    r = parse_command_line({"-q", "--on=native", "img", "--initrd", "rd", "--append", "a b", "--timeout",
                            "2.5", "--cpu", "qemu64", "--memory=512", "--marker", "OK", "--qemu-arg",
                            "-smp", "--qemu-arg=2", "--log", "l"});
    REQUIRE(r.status == parse_status::ok);
    CHECK(r.options.quiet);
    CHECK(*r.options.initrd == "rd");
    CHECK(*r.options.append == "a b");
    CHECK(r.options.timeout_s == 2.5);
    CHECK(r.options.cpu == "qemu64");
    CHECK(r.options.memory_mb == 512);
    CHECK(r.options.marker == "OK");
    CHECK(r.options.qemu_args == std::vector<std::string>{"-smp", "2"});
    CHECK(*r.options.log == "l");
}

TEST_CASE("command line: errors")
{
    CHECK(parse_command_line({"--help"}).status == parse_status::help);
    for (auto args : std::vector<std::vector<std::string>>{
             {"img"}, {"--on", "native"}, {"--on", "native", "a", "b"}, {"--on", "native", "a", "--timeout", "0"},
             {"--on", "native", "a", "--timeout", "1x"}, {"--on", "native", "a", "--memory", "12"},
             {"--on", "native", "a", "--bogus"}, {"--on", "native", "a", "--log"}}) {
        INFO(args.back());
        CHECK(parse_command_line(args).status == parse_status::error);
    }
}

TEST_CASE("command line: xen's --pt-sites")
{
    CHECK(parse_command_line({"--on", "xen", "g.elf"}).options.pt_sites == "stores");
    CHECK(parse_command_line({"--on", "xen", "g.elf", "--pt-sites", "stores"}).options.pt_sites == "stores");
    CHECK(parse_command_line({"--on", "kvm", "g.elf"}).status == parse_status::ok);
    CHECK(parse_command_line({"--on", "xen", "g.elf", "--verify-shadow"}).options.verify_shadow);
    CHECK(parse_command_line({"--on", "kvm", "g.elf", "--verify-shadow"}).status == parse_status::error);
    auto r = parse_command_line({"--on", "xen", "g.elf", "--pt-sites", "wedge"});
    REQUIRE(r.status == parse_status::ok);
    CHECK(r.options.pt_sites == "wedge");
    CHECK(parse_command_line({"--on", "xen", "g.elf", "--pt-sites=native"}).options.pt_sites == "native");
    for (auto args : std::vector<std::vector<std::string>>{{"--on", "xen", "g", "--pt-sites", "direct"},
                                                           {"--on", "xen", "g", "--pt-sites"},
                                                           {"--on", "kvm", "g", "--pt-sites", "wedge"},
                                                           {"--on", "kvm", "g", "--pt-sites", "native"},
                                                           {"--on", "native", "g", "--pt-sites", "wedge"}}) {
        INFO(args[1] << " " << args.back());
        CHECK(parse_command_line(args).status == parse_status::error);
    }
    CHECK(usage_text().find("--pt-sites MODE") != std::string::npos);
}

TEST_CASE("console: marker must start a line")
{
    CHECK(console_watcher::line_has_marker("AFTERBURN-SUCCESS", "AFTERBURN-SUCCESS"));
    CHECK(console_watcher::line_has_marker("  AFTERBURN-SUCCESS: 12 tests", "AFTERBURN-SUCCESS"));
    CHECK(console_watcher::line_has_marker("[    0.912345] AFTERBURN-SUCCESS", "AFTERBURN-SUCCESS"));
    CHECK(console_watcher::line_has_marker("\rAFTERBURN-FAILURE: l4-wedge: x", "AFTERBURN-FAILURE"));  // KDB's "\n\r"
    CHECK_FALSE(console_watcher::line_has_marker("echo AFTERBURN-SUCCESS", "AFTERBURN-SUCCESS"));
    CHECK_FALSE(console_watcher::line_has_marker("AFTERBURN-SUCCESSOR", "AFTERBURN-SUCCESS"));
    CHECK_FALSE(console_watcher::line_has_marker("AFTERBURN-SUCCESS-NOT", "AFTERBURN-SUCCESS"));
    CHECK_FALSE(console_watcher::line_has_marker("[abc] AFTERBURN-SUCCESS", "AFTERBURN-SUCCESS"));
    CHECK_FALSE(console_watcher::line_has_marker("", "AFTERBURN-SUCCESS"));
}

TEST_CASE("console: verdicts from a byte stream split anywhere")
{
    const std::string stream = "boot\r\nAFTERBURN-START\r\nAFTERBURN-SUCCESS\r\nKernel panic - not syncing\r\n";
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        console_watcher w("AFTERBURN-SUCCESS", 3);
        w.feed(std::string_view(stream).substr(0, split));
        w.feed(std::string_view(stream).substr(split));
        REQUIRE(w.verdict() == console_verdict::success); // the first decisive line wins
        CHECK(w.decisive_line() == "AFTERBURN-SUCCESS");
        CHECK(w.last_lines() ==
              std::vector<std::string>{"AFTERBURN-START", "AFTERBURN-SUCCESS", "Kernel panic - not syncing"});
    }
    console_watcher fail("AFTERBURN-SUCCESS");
    CHECK(fail.feed("x\nAFTERBURN-FAILURE: bad\nAFTERBURN-SUCCESS\n") == console_verdict::failure);
    CHECK(fail.decisive_line() == "AFTERBURN-FAILURE: bad");
    console_watcher crash("AFTERBURN-SUCCESS");
    CHECK(crash.feed("[ 1.0] Kernel panic - not syncing: Attempted to kill init!\n") == console_verdict::crashed);
    console_watcher tail("AFTERBURN-SUCCESS");
    CHECK(tail.feed("AFTERBURN-SUCCESS") == console_verdict::pending); // not a line yet
    CHECK(tail.last_lines() == std::vector<std::string>{"AFTERBURN-SUCCESS"});
    CHECK(tail.finish() == console_verdict::success);
}

TEST_CASE("qemu argv: fixed setup, Linux default console, passthrough last")
{
    boot_options o;
    o.image = "k.elf";
    image_info linux_image{image_kind::elf_pvh, true, ""};
    image_info other{image_kind::elf_pvh, false, ""};
    auto argv = native_qemu_argv(o, linux_image);
    std::vector<std::string> tail(argv.begin() + 1, argv.end());
    CHECK(tail == std::vector<std::string>{"-accel", "tcg", "-cpu", "max", "-m", "256", "-nographic",
                                           "-no-reboot", "-serial", "stdio", "-monitor", "none", "-kernel",
                                           "k.elf", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                                           "-append", "console=ttyS0 no_timer_check"});
    CHECK(native_qemu_argv(o, other).size() == argv.size() - 2); // no -append for non-Linux
    o.append = "";
    o.qemu_args = {"-smp", "2"};
    argv = native_qemu_argv(o, other);
    CHECK(argv[argv.size() - 4] == "-append");
    CHECK(argv[argv.size() - 3] == "");
    CHECK(argv.back() == "2");
    CHECK(shell_quote_join({"a", "b c", "it's", ""}) == "a 'b c' 'it'\\''s' ''");
}

TEST_CASE("xen dom0 argv: Xen as multiboot kernel, dom0 kernel and initrd as modules")
{
    dom0_boot b;
    b.xen = "/cache/xen";
    b.kernel = "/k/vmlinux";
    b.cmdline = "console=hvc0 quiet";
    b.module = "/k/initramfs.cpio.gz";
    b.dom0_mb = 300;
    b.cpu = xen_dom0_cpu("max");
    b.qemu_args = {"-icount", "shift=0"};
    auto argv = xen_dom0_qemu_argv(b);
    auto at = [&](const std::string& opt) {
        auto it = std::find(argv.begin(), argv.end(), opt);
        REQUIRE(it + 1 < argv.end());
        return *(it + 1);
    };
    CHECK(at("-kernel") == "/cache/xen");
    CHECK(at("-cpu") == "max,-smap"); // the default "max" without SMAP (Xen PV dom0 dies with it)
    CHECK(xen_dom0_cpu("qemu64") == "qemu64");
    CHECK(at("-initrd") == "/k/vmlinux console=hvc0 quiet,/k/initramfs.cpio.gz");
    CHECK(at("-m") == "556"); // dom0's 300 MiB plus Xen's own
    CHECK(at("-append").find("dom0_mem=300M,max:300M") != std::string::npos);
    CHECK(at("-append").find("console=com1") != std::string::npos);
    CHECK(std::find(argv.begin(), argv.end(), "-no-reboot") != argv.end());
    CHECK(argv.back() == "shift=0");
    CHECK(dom0_module_problem(b).empty());
    b.module = "/k/a,b";
    CHECK_FALSE(dom0_module_problem(b).empty());
    b.module.reset();
    b.xen_options = "loglvl=all";
    argv = xen_dom0_qemu_argv(b);
    CHECK(at("-initrd") == "/k/vmlinux console=hvc0 quiet");
    CHECK(at("-append").ends_with(" iommu=0 loglvl=all"));
    b.cmdline = "console=ttyS0,115200";
    CHECK_FALSE(dom0_module_problem(b).empty()); // ',' would split QEMU's module list
}

TEST_CASE("xen exit: the wedge's verdict from QEMU's status or its SCHEDOP_shutdown line")
{
    exit_status debug_exit{true, 5, 0};
    CHECK(describe_xen_exit(debug_exit, {"xen-wedge: verdict 2"}) == "the wedge's verdict 2 (isa-debug-exit)");
    // Status 1 with no verdict line is QEMU's own error, not verdict 0.
    exit_status one{true, 1, 0};
    CHECK(describe_xen_exit(one, {}).starts_with("QEMU exited with status 1"));
    CHECK(describe_xen_exit(one, {"xen-wedge: verdict 0"}) == "the wedge's verdict 0 (isa-debug-exit)");
    exit_status zero{true, 0, 0};
    CHECK(describe_xen_exit(zero, {"xen-wedge: verdict 1", "xen-wedge: verdict 1 via SCHEDOP_shutdown"}) ==
          "the wedge's verdict 1 (SCHEDOP_shutdown; QEMU status 0)");
    CHECK(describe_xen_exit(zero, {"xen-wedge: verdict 1", "xen-wedge: verdict 1 via SCHEDOP_shutdownX"}) ==
          "Xen ended without a verdict from the wedge (QEMU status 0)");
    CHECK(describe_xen_exit(zero, {}).starts_with("QEMU exited with status 0")); // not the wedge: QEMU's words
    CHECK(describe_wedge_exit(zero, {}).starts_with("Xen ended without a verdict from the wedge (QEMU exited"));
}

TEST_CASE("console watcher remembers the lines it is asked to")
{
    console_watcher w("AFTERBURN-SUCCESS");
    w.remember_lines_starting_with("xen-wedge: verdict ");
    w.feed("(XEN) x\r\nxen-wedge: verdict 2\r\nxen-wedge: other\r\n");
    REQUIRE(w.remembered().size() == 1);
    CHECK(w.remembered()[0] == "xen-wedge: verdict 2");
}

TEST_CASE("console watcher stops on a VMM's own stop lines, except those answered")
{
    console_watcher w("AFTERBURN-SUCCESS");
    w.crash_on_lines_starting_with({"PANIC", "--- \"KD# "}, {"KD# System started"});
    CHECK(w.feed("--- \"KD# System started (press 'g' to continue)\" ---\r\n") == console_verdict::pending);
    CHECK(w.feed("kickstart: PANIC is only a word here\r\n") == console_verdict::pending);
    CHECK(w.feed("   PANIC: FAIL in line 161\r\n") == console_verdict::crashed);
    CHECK(w.decisive_line() == "   PANIC: FAIL in line 161");
    console_watcher kdb("AFTERBURN-SUCCESS");
    kdb.crash_on_lines_starting_with({"PANIC", "--- \"KD# "}, {"KD# System started"});
    CHECK(kdb.feed("\r--- \"KD# panic\" ---\n\r") == console_verdict::crashed);
    console_watcher plain("AFTERBURN-SUCCESS"); // no stop lines: only the generic crash text
    CHECK(plain.feed("PANIC: FAIL in line 161\n") == console_verdict::pending);
}

TEST_CASE("console watcher matches the text of a line, without terminal control sequences")
{
    CHECK(console_watcher::without_terminal_controls("\x1b" "c\x1b[?7l\x1b[2JAFTERBURN-L1-INIT uptime=4.36") ==
          "AFTERBURN-L1-INIT uptime=4.36");
    CHECK(console_watcher::without_terminal_controls("a\x1b[1;31mred\x1b[0m b") == "ared b");
    CHECK(console_watcher::without_terminal_controls("cut\x1b[12") == "cut"); // an unfinished sequence
    CHECK(console_watcher::without_terminal_controls("end\x1b") == "end");
    console_watcher w("AFTERBURN-SUCCESS");
    w.remember_lines_starting_with("AFTERBURN-L1");
    w.feed("\x1b" "c\x1b[?7l\x1b[2JAFTERBURN-L1-INIT uptime=4.36\r\n\x1b[2JAFTERBURN-SUCCESS\r\n");
    CHECK(w.remembered() == std::vector<std::string>{"AFTERBURN-L1-INIT uptime=4.36"});
    CHECK(w.verdict() == console_verdict::success);
    // A terminal reset starts a new line: the text before it (here SeaBIOS's, without a line
    // end) is a line of its own.
    console_watcher reset("AFTERBURN-SUCCESS");
    reset.remember_lines_starting_with("AFTERBURN-L1");
    reset.feed("Booting from ROM...\x1b" "c\x1b[?7l\x1b[2JAFTERBURN-L1-INIT uptime=2.58\r\n");
    CHECK(reset.remembered() == std::vector<std::string>{"AFTERBURN-L1-INIT uptime=2.58"});
    CHECK(reset.last_lines() == std::vector<std::string>{"Booting from ROM...", "AFTERBURN-L1-INIT uptime=2.58"});
}
