// afterburn-kvm: boots a 64-bit ELF kernel in a KVM VM through the Linux x86-64 64-bit
// boot protocol and runs its one vCPU until the guest gives a verdict on port 0xf4,
// crashes, halts, or the --timeout expires. See docs/kvm-backend-notes.md.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>

#include "boot_layout.h"
#include "cli.h"
#include "exit_codes.h"
#include "exit_stats.h"
#include "guest_image.h"
#include "guest_memory.h"
#include "io_devices.h"
#include "kvm_vcpu.h"
#include "kvm_vm.h"
#include "long_mode.h"
#include "watchdog.h"
#include "wedge_link.h"

using namespace afterburn::kvm;
namespace boot = afterburn::boot;

namespace {

uint64_t now_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

// --probe: `mov $0, %al; out %al, $0xf4; 1: hlt; jmp 1b` at 1 MiB. It passes only if a
// long-mode guest really runs and its port write reaches us.
constexpr uint8_t probe_code[] = {0xb0, 0x00, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd};
constexpr uint64_t probe_entry = 0x100000;

// Appended to errors that come from KVM itself, when the loaded modules explain them.
std::string kvm_hint() {
    std::string mods = kvm_vm::describe_kvm_modules();
    if (mods.find("kvm_pvm") != std::string::npos)
        return " [this /dev/kvm is provided by the kvm_pvm module (PVM: the guest kernel is run "
               "de-privileged and its privileged instructions are emulated in software; an ordinary "
               "guest runs only as far as that emulator goes; for real KVM use nested KVM, "
               "afterburn boot --on kvm --nested)]";
    if (mods.empty()) return " [no kvm_amd/kvm_intel module is loaded]";
    return "";
}

void dump_state(const kvm_vcpu& vcpu) {
    try {
        kvm_regs r = vcpu.get_regs();
        kvm_sregs s = vcpu.get_sregs();
        std::fprintf(stderr,
                     "  rip %016llx rsp %016llx rflags %08llx\n"
                     "  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n",
                     (unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)r.rflags,
                     (unsigned long long)s.cr0, (unsigned long long)s.cr2, (unsigned long long)s.cr3,
                     (unsigned long long)s.cr4, (unsigned long long)s.efer);
    } catch (const fatal_error&) {
        std::fprintf(stderr, "  (registers unavailable)\n");
    }
}

std::string hex_string(uint64_t v) {
    char b[20];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
    return b;
}

struct run_result {
    int status;
    std::string message;
};

run_result run_vcpu(kvm_vcpu& vcpu, io_bus& bus, exit_stats& stats, double timeout_s, unsigned kick_ms,
                    wedge_link* wedge, const guest_memory& mem) {
    watchdog watch(timeout_s, vcpu.state(), kick_ms);
    kvm_run* run = vcpu.state();
    for (;;) {
        uint64_t t = now_ns();
        int rc = vcpu.run();
        stats.add_run_ns(now_ns() - t);
        if (watch.fired()) {
            dump_state(vcpu);
            char m[96];
            std::snprintf(m, sizeof m, "timeout: the guest gave no verdict within %g s", timeout_s);
            return {exit_timeout, m};
        }
        if (rc == -EINTR || rc == -EAGAIN) {
            stats.count_exit(KVM_EXIT_INTR);
            // --kick-ms: writing the registers back makes KVM check for pending interrupts at
            // the next entry (KVM_REQ_EVENT). Nested under QEMU's emulated SVM, an interrupt that
            // arrived while the guest had IF=0 is otherwise not injected until the guest exits.
            if (kick_ms) vcpu.set_regs(vcpu.get_regs());
            continue;
        }
        if (rc < 0) {
            errno = -rc;
            return {exit_kvm_unavailable, std::string("KVM_RUN failed: ") + std::strerror(-rc) + kvm_hint()};
        }
        stats.count_exit(run->exit_reason);
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            bool out = run->io.direction == KVM_EXIT_IO_OUT;
            uint8_t* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
            if (wedge && wedge->claims(run->io.port)) {
                stats.count_port(run->io.port, out, true, run->io.count);
                if (!out || run->io.size != 4 || run->io.count != 1)
                    return {exit_wedge_error, "wedge hypercall port used with a wrong access (want one 32-bit out)"};
                uint32_t gpa;
                std::memcpy(&gpa, data, 4);
                if (auto fatal = wedge->hypercall(gpa, mem, bus.console())) {
                    dump_state(vcpu);
                    return {exit_wedge_error, *fatal};
                }
                break;
            }
            bool claimed = false;
            for (uint32_t i = 0; i < run->io.count; i++)
                claimed = bus.io(out, run->io.port, data + i * run->io.size, run->io.size);
            stats.count_port(run->io.port, out, claimed, run->io.count);
            if (bus.reset_requested())
                return {exit_guest_reset, "the guest asked for a reset (reboot): the run ends here"};
            if (auto v = bus.debug_exit().verdict()) {
                char m[96];
                std::snprintf(m, sizeof m, "guest wrote %" PRIu32 " to port 0xf4: exit status %d", *v,
                              verdict_status(*v));
                return {verdict_status(*v), m};
            }
            break;
        }
        case KVM_EXIT_MMIO:
            if (!run->mmio.is_write) std::memset(run->mmio.data, 0xff, sizeof run->mmio.data);
            stats.count_mmio(run->mmio.phys_addr);
            break;
        case KVM_EXIT_HLT:
            dump_state(vcpu);
            return {exit_guest_halted, "guest halted (KVM_EXIT_HLT) without a verdict"};
        case KVM_EXIT_SHUTDOWN:
            dump_state(vcpu);
            return {exit_guest_crash,
                    "guest shut down (triple fault, or a shutdown KVM could not handle)" + kvm_hint()};
        case KVM_EXIT_FAIL_ENTRY: {
            dump_state(vcpu);
            char m[128];
            std::snprintf(m, sizeof m, "VM entry failed: hardware reason 0x%llx",
                          (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            return {exit_guest_crash, m + kvm_hint()};
        }
        case KVM_EXIT_INTERNAL_ERROR: {
            dump_state(vcpu);
            std::string m = "KVM internal error, suberror " + std::to_string(run->internal.suberror);
            if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) m += " (instruction emulation failed)";
            for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++) {
                char b[24];
                std::snprintf(b, sizeof b, " %llx", (unsigned long long)run->internal.data[i]);
                m += i == 0 ? std::string(", data") + b : std::string(b);
            }
            return {exit_guest_crash, m + kvm_hint()};
        }
        case KVM_EXIT_SYSTEM_EVENT:
            return {exit_guest_crash, "guest requested a system event (type " +
                                          std::to_string(run->system_event.type) + ": shutdown/reset/crash)"};
        default:
            dump_state(vcpu);
            return {exit_guest_crash, std::string("unhandled exit reason ") + std::to_string(run->exit_reason) + " (" +
                                          exit_stats::reason_name(run->exit_reason) + ")"};
        }
    }
}

int launch(const options& o) {
    // Everything about the input is checked before /dev/kvm is opened: bad input gives the
    // same error on any host.
    std::vector<uint8_t> kernel_bytes, initrd_bytes, wedge_bytes;
    std::optional<boot::elf64_image> wedge_image;
    boot::elf64_image kernel_image{};
    if (!o.probe) {
        kernel_bytes = read_file(o.image, "guest image");
        kernel_image = parse_image(kernel_bytes, o.image, true);
        const boot::elf64_image& k = kernel_image;
        if (!o.initrd.empty()) {
            initrd_bytes = read_file(o.initrd, "--initrd");
            if (initrd_bytes.empty()) throw fatal_error(exit_bad_image, "--initrd " + o.initrd + ": the file is empty");
        }
        uint64_t need = min_memory_mib(k, initrd_bytes.size());
        if (need > o.memory_mib)
            throw fatal_error(exit_bad_image, o.image + (initrd_bytes.empty() ? "" : " with --initrd " + o.initrd) +
                                                  ": the guest has --memory " + std::to_string(o.memory_mib) +
                                                  " MiB but needs at least --memory " + std::to_string(need));
    }
    if (!o.wedge.empty()) {
        wedge_bytes = read_file(o.wedge, "--wedge");
        boot::elf64_image w;
        boot::status st;
        if (!boot::parse_elf64(wedge_bytes.data(), wedge_bytes.size(), o.wedge.c_str(), false, w, st)) {
            if (st.code == boot::error::bad_entry && w.entry < wedge_link::window)
                throw fatal_error(exit_bad_image,
                                  "--wedge: entry point 0x" + hex_string(w.entry) + " is not in the window");
            throw fatal_error(exit_bad_image, std::string("--wedge: ") + st.text);
        }
        wedge_image = w;
    }
    uint64_t t_setup = now_ns();
    guest_memory mem(o.memory_mib << 20);
    uint64_t entry = probe_entry;
    std::optional<wedge_link> wedge;
    boot::boot_result loaded{};
    if (!o.probe) {
        boot::guest_ram ram = ram_view(mem);
        boot::boot_request req{};
        req.kernel = kernel_bytes.data();
        req.kernel_size = kernel_bytes.size();
        req.kernel_name = o.image.c_str();
        req.initrd = initrd_bytes.empty() ? nullptr : initrd_bytes.data();
        req.initrd_size = initrd_bytes.size();
        req.initrd_name = o.initrd.c_str();
        req.cmdline = o.append.c_str();
        req.boot_params_gpa = layout::boot_params;
        req.cmdline_gpa = layout::cmdline;
        req.cmdline_max = layout::cmdline_max;
        req.kernel_min_gpa = layout::reserved_end;
        if (wedge_image) {
            // The wedge's home is chosen before anything is loaded, and kept out of the guest's reach.
            uint64_t low_end = mem.ranges().front().size;
            uint64_t pa = (low_end - wedge_link::window_size) & ~(wedge_link::window_size - 1);
            req.reserved[req.reserved_count++] = {pa, wedge_link::window_size};
            wedge.emplace(*wedge_image, kernel_image, mem);   // checks the overlap with a clear message
        }
        boot::status st;
        if (!boot::load_linux(req, ram, loaded, st)) {
            int status = st.code == boot::error::cmdline_too_long ? exit_usage : exit_bad_image;
            throw fatal_error(status,
                              std::string(st.code == boot::error::cmdline_too_long ? "--append: " : "") + st.text);
        }
        entry = loaded.entry_phys;
        if (wedge) wedge->load(mem);
        if (!initrd_bytes.empty())
            std::fprintf(stderr, "afterburn-kvm: initrd %s: %zu bytes at guest-physical 0x%llx\n", o.initrd.c_str(),
                         initrd_bytes.size(), (unsigned long long)loaded.initrd_gpa);
    } else {
        std::memcpy(mem.at(probe_entry, sizeof probe_code), probe_code, sizeof probe_code);
    }
    write_long_mode_tables(mem);
    if (wedge) {
        entry = wedge->install(mem, layout::boot_params, layout::stack_top);
        std::fprintf(stderr, "afterburn-kvm: wedge %s at guest-physical 0x%llx, mapped at 0x%llx; guest entry 0x%llx\n",
                     o.wedge.c_str(), (unsigned long long)wedge->pa(), (unsigned long long)wedge_link::window,
                     (unsigned long long)loaded.entry_virt);
    }

    kvm_vm vm(o.kvm_device);
    kvm_vcpu* vcpu_ptr = nullptr;
    std::optional<kvm_vcpu> vcpu;
    try {
        vm.add_memory(mem);
        vm.create_irqchip_and_pit();
        vcpu.emplace(vm, 0);
        vcpu_ptr = &*vcpu;
        vcpu_ptr->set_supported_cpuid(vm);
        kvm_sregs sregs = vcpu_ptr->get_sregs();
        set_long_mode_sregs(sregs);
        vcpu_ptr->set_sregs(sregs);
        kvm_regs regs = entry_regs(entry, layout::boot_params);
        if (wedge) regs.rdi = layout::wedge_handoff;
        vcpu_ptr->set_regs(regs);
    } catch (const fatal_error& e) {
        throw fatal_error(e.status(), e.what() + kvm_hint());
    }

    io_bus bus(STDOUT_FILENO);
    if (!o.probe) bus.connect_uart_irq([&vm](unsigned line, bool level) { vm.set_irq_line(line, level); });
    if (wedge) wedge->connect_irq([&vm](unsigned line, bool level) { vm.set_irq_line(line, level); });
    if (wedge) wedge->connect_xcr([vcpu_ptr](uint32_t index, uint64_t value) { return vcpu_ptr->set_xcr(index, value); });
    exit_stats stats;
    uint64_t t_run = now_ns();
    run_result r = run_vcpu(*vcpu_ptr, bus, stats, o.timeout_s, o.kick_ms, wedge ? &*wedge : nullptr, mem);
    uint64_t t_end = now_ns();
    if (wedge) wedge->drain(mem, bus.console());
    bus.console().flush();
    if (o.stats) {
        std::fprintf(stderr, "afterburn-kvm: setup %.1f ms\n", (t_run - t_setup) / 1e6);
        stats.print(stderr, t_end - t_run);
        if (wedge) wedge->print_stats(stderr);
        std::fprintf(stderr, "  in-kernel devices at the end: %s; %s\n", vm.describe_pic_pit().c_str(),
                     vcpu_ptr->describe_lapic().c_str());
    }
    if (o.probe) {
        if (r.status == verdict_status(0)) {
            std::string mods = kvm_vm::describe_kvm_modules();
            std::fprintf(stderr, "afterburn-kvm: probe: %s runs an ordinary long-mode guest (%.1f ms; modules: %s)%s\n",
                         o.kvm_device.c_str(), (t_end - t_setup) / 1e6, mods.empty() ? "none seen" : mods.c_str(),
                         mods.find("kvm_pvm") != std::string::npos ? kvm_hint().c_str() : "");
            return 0;
        }
        std::fprintf(stderr, "afterburn-kvm: probe: %s cannot run an ordinary long-mode guest: %s\n",
                     o.kvm_device.c_str(), r.message.c_str());
        return r.status == exit_timeout ? exit_timeout : exit_kvm_unavailable;
    }
    std::fprintf(stderr, "afterburn-kvm: %s\n", r.message.c_str());
    return r.status;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        options o;
        if (!parse_cli(argc, argv, o)) return 0;
        return launch(o);
    } catch (const fatal_error& e) {
        std::fprintf(stderr, "afterburn-kvm: %s\n", e.what());
        if (e.status() == exit_usage) std::fputs(usage_text(), stderr);
        return e.status();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "afterburn-kvm: internal error: %s\n", e.what());
        return exit_guest_crash;
    }
}
