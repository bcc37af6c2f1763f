// /dev/kvm and one VM: API version check, guest RAM slots, in-kernel irqchip
// (8259 PICs, IOAPIC, local APICs) and in-kernel 8254 PIT.
#pragma once
#include <string>

#include "guest_memory.h"

namespace afterburn::kvm {

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    ~unique_fd();
    unique_fd(unique_fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    unique_fd& operator=(unique_fd&& o) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// Throws fatal_error(status, "<what>: <strerror>") (errno is read at the call).
[[noreturn]] void throw_errno(int status, const std::string& what);

class kvm_vm {
public:
    // Opens the device and creates a VM; throws fatal_error(exit_kvm_unavailable) with the reason.
    explicit kvm_vm(const std::string& device);
    int kvm_fd() const { return kvm_.get(); }
    int fd() const { return vm_.get(); }
    // Registers every RAM range of `mem` as a memory slot.
    void add_memory(const guest_memory& mem);
    // In-kernel PIC/IOAPIC/LAPIC (KVM_CREATE_IRQCHIP) and PIT (KVM_CREATE_PIT2).
    void create_irqchip_and_pit();
    // Drives an ISA interrupt line of the in-kernel PIC/IOAPIC (KVM_IRQ_LINE).
    void set_irq_line(unsigned irq, bool level);
    // "PIC master irr/imr/isr, PIT channel 0 mode/count" (for --stats).
    std::string describe_pic_pit() const;
    // Loaded kernel modules that explain an unusual /dev/kvm (e.g. "kvm_pvm"), or "".
    static std::string describe_kvm_modules();

private:
    unique_fd kvm_;
    unique_fd vm_;
};

}  // namespace afterburn::kvm
