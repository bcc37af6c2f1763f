#include "kvm_vm.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "exit_codes.h"

namespace afterburn::kvm {

unique_fd::~unique_fd() {
    if (fd_ >= 0) close(fd_);
}

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

void throw_errno(int status, const std::string& what) {
    int e = errno;
    throw fatal_error(status, what + ": " + std::strerror(e));
}

std::string kvm_vm::describe_kvm_modules() {
    std::string out;
    std::error_code ec;
    for (const char* m : {"kvm_pvm", "kvm_amd", "kvm_intel"}) {
        if (std::filesystem::exists(std::string("/sys/module/") + m, ec)) {
            if (!out.empty()) out += ", ";
            out += m;
        }
    }
    return out;
}

kvm_vm::kvm_vm(const std::string& device) {
    int k = open(device.c_str(), O_RDWR | O_CLOEXEC);
    if (k < 0) throw_errno(exit_kvm_unavailable, "cannot open " + device);
    kvm_ = unique_fd(k);
    int version = ioctl(k, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION)
        throw fatal_error(exit_kvm_unavailable, device + ": KVM API version " + std::to_string(version) + ", want " +
                                                    std::to_string(KVM_API_VERSION));
    for (auto [cap, name] : {std::pair{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"}, {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
                             {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"}, {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"}}) {
        if (ioctl(k, KVM_CHECK_EXTENSION, cap) <= 0)
            throw fatal_error(exit_kvm_unavailable, device + ": missing " + name);
    }
    int v = ioctl(k, KVM_CREATE_VM, 0);
    if (v < 0) throw_errno(exit_kvm_unavailable, device + ": KVM_CREATE_VM");
    vm_ = unique_fd(v);
    // Needed on Intel (real-mode emulation area); harmless elsewhere. Just below 4 GiB, in
    // the hole, away from the LAPIC (0xfee00000) and the IOAPIC (0xfec00000).
    if (ioctl(v, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0) throw_errno(exit_kvm_unavailable, "KVM_SET_TSS_ADDR");
}

void kvm_vm::add_memory(const guest_memory& mem) {
    uint32_t slot = 0;
    for (const ram_range& r : mem.ranges()) {
        kvm_userspace_memory_region region{};
        region.slot = slot++;
        region.guest_phys_addr = r.gpa;
        region.memory_size = r.size;
        region.userspace_addr = reinterpret_cast<uint64_t>(mem.host_base() + r.offset);
        if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
            throw_errno(exit_kvm_unavailable, "KVM_SET_USER_MEMORY_REGION");
    }
}

void kvm_vm::set_irq_line(unsigned irq, bool level) {
    kvm_irq_level l{};
    l.irq = irq;
    l.level = level ? 1 : 0;
    if (ioctl(vm_.get(), KVM_IRQ_LINE, &l) < 0) throw_errno(exit_kvm_unavailable, "KVM_IRQ_LINE");
}

void kvm_vm::create_irqchip_and_pit() {
    if (ioctl(vm_.get(), KVM_CREATE_IRQCHIP, 0) < 0) throw_errno(exit_kvm_unavailable, "KVM_CREATE_IRQCHIP");
    kvm_pit_config pit{};
    pit.flags = 0;   // in-kernel port 0x61 (PIT channel 2 gate) too
    if (ioctl(vm_.get(), KVM_CREATE_PIT2, &pit) < 0) throw_errno(exit_kvm_unavailable, "KVM_CREATE_PIT2");
}

}  // namespace afterburn::kvm

namespace afterburn::kvm {

std::string kvm_vm::describe_pic_pit() const {
    char b[160] = "PIC/PIT state unavailable";
    kvm_irqchip chip{};
    chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
    kvm_pit_state2 pit{};
    if (ioctl(vm_.get(), KVM_GET_IRQCHIP, &chip) == 0 && ioctl(vm_.get(), KVM_GET_PIT2, &pit) == 0) {
        const kvm_pic_state& p = chip.chip.pic;
        std::snprintf(b, sizeof b, "8259 master irr %02x imr %02x isr %02x vector base 0x%02x; 8254 ch0 mode %u count %u",
                      p.irr, p.imr, p.isr, p.irq_base, pit.channels[0].mode, pit.channels[0].count);
    }
    return b;
}

}  // namespace afterburn::kvm
