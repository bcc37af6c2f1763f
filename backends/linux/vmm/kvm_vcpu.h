// One vCPU: its kvm_run area, CPUID (what KVM supports, with this vCPU's APIC ID),
// register state, and KVM_RUN.
#pragma once
#include <linux/kvm.h>

#include <string>

#include "kvm_vm.h"

namespace afterburn::kvm {

class kvm_vcpu {
public:
    kvm_vcpu(const kvm_vm& vm, unsigned id);
    ~kvm_vcpu();
    kvm_vcpu(const kvm_vcpu&) = delete;
    kvm_vcpu& operator=(const kvm_vcpu&) = delete;

    // KVM_GET_SUPPORTED_CPUID → KVM_SET_CPUID2, with the APIC ID fields set to `id`.
    void set_supported_cpuid(const kvm_vm& vm);
    kvm_sregs get_sregs() const;
    void set_sregs(const kvm_sregs& s);
    kvm_regs get_regs() const;
    void set_regs(const kvm_regs& r);
    // KVM_SET_XCRS of one extended control register (XCR0: the xsave features). Returns
    // false when KVM refuses the value (as the CPU's xsetbv would: #GP); throws on other
    // errors.
    bool set_xcr(uint32_t index, uint64_t value);
    // KVM_RUN once. Returns 0, or -errno (EINTR when a signal arrived: exit_reason is
    // then KVM_EXIT_INTR).
    int run();
    // "LAPIC SVR/LVT0/LVT timer" (for --stats).
    std::string describe_lapic() const;
    kvm_run* state() const { return run_; }
    int fd() const { return fd_.get(); }

private:
    unsigned id_;
    unique_fd fd_;
    kvm_run* run_ = nullptr;
    size_t run_size_ = 0;
};

}  // namespace afterburn::kvm
