// /dev/kvm and one VM: API version check, guest RAM slots, in-kernel irqchip
// (8259 PICs, IOAPIC, local APICs) and in-kernel 8254 PIT.
#pragma once
#include <string>

#include "guest_memory.h"

namespace afterburn::kvm {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd();
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// Throws Error(status, "<what>: <strerror>") (errno is read at the call).
[[noreturn]] void throw_errno(int status, const std::string& what);

class Vm {
public:
    // Opens the device and creates a VM; throws Error(kKvmUnavailable) with the reason.
    explicit Vm(const std::string& device);
    int kvm_fd() const { return kvm_.get(); }
    int fd() const { return vm_.get(); }
    // Registers every RAM range of `mem` as a memory slot.
    void add_memory(const GuestMemory& mem);
    // In-kernel PIC/IOAPIC/LAPIC (KVM_CREATE_IRQCHIP) and PIT (KVM_CREATE_PIT2).
    void create_irqchip_and_pit();
    // Drives an ISA interrupt line of the in-kernel PIC/IOAPIC (KVM_IRQ_LINE).
    void set_irq_line(unsigned irq, bool level);
    // "PIC master irr/imr/isr, PIT channel 0 mode/count" (for --stats).
    std::string describe_pic_pit() const;
    // Loaded kernel modules that explain an unusual /dev/kvm (e.g. "kvm_pvm"), or "".
    static std::string describe_kvm_modules();

private:
    Fd kvm_;
    Fd vm_;
};

}  // namespace afterburn::kvm
