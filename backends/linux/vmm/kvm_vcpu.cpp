#include "kvm_vcpu.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "exit_codes.h"

namespace afterburn::kvm {

kvm_vcpu::kvm_vcpu(const kvm_vm& vm, unsigned id) : id_(id) {
    int f = ioctl(vm.fd(), KVM_CREATE_VCPU, id);
    if (f < 0) throw_errno(exit_kvm_unavailable, "KVM_CREATE_VCPU");
    fd_ = unique_fd(f);
    int size = ioctl(vm.kvm_fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < static_cast<int>(sizeof(kvm_run))) throw_errno(exit_kvm_unavailable, "KVM_GET_VCPU_MMAP_SIZE");
    run_size_ = static_cast<size_t>(size);
    void* p = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (p == MAP_FAILED) throw_errno(exit_kvm_unavailable, "mmap(kvm_run)");
    run_ = static_cast<kvm_run*>(p);
}

kvm_vcpu::~kvm_vcpu() {
    if (run_) munmap(run_, run_size_);
}

namespace {
// struct kvm_cpuid2 as the kernel sees it: {nent, padding} then the entries. Not the
// uapi struct itself: its flexible array (__DECLARE_FLEX_ARRAY) compiles in C++ as an
// empty struct of size 1, which makes sizeof 12 and moves the entries to offset 12,
// so both the ioctl numbers (the size is encoded in them) and the layout would be wrong.
struct cpuid_header {
    uint32_t nent;
    uint32_t padding;
};
static_assert(sizeof(cpuid_header) == 8);
constexpr unsigned long ioctl_get_supported_cpuid = _IOWR(KVMIO, 0x05, cpuid_header);   // KVM_GET_SUPPORTED_CPUID
constexpr unsigned long ioctl_set_cpuid2 = _IOW(KVMIO, 0x90, cpuid_header);             // KVM_SET_CPUID2
}  // namespace

void kvm_vcpu::set_supported_cpuid(const kvm_vm& vm) {
    // Room for `n` entries after the header; retried larger on E2BIG.
    for (unsigned n = 64; n <= 4096; n *= 2) {
        size_t bytes = sizeof(cpuid_header) + n * sizeof(kvm_cpuid_entry2);
        std::vector<uint64_t> buf((bytes + 7) / 8, 0);
        auto* c = reinterpret_cast<cpuid_header*>(buf.data());
        auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(c + 1);
        c->nent = n;
        if (ioctl(vm.kvm_fd(), ioctl_get_supported_cpuid, c) < 0) {
            if (errno == E2BIG) continue;
            throw_errno(exit_kvm_unavailable, "KVM_GET_SUPPORTED_CPUID");
        }
        for (uint32_t i = 0; i < c->nent; i++) {
            kvm_cpuid_entry2& e = entries[i];
            if (e.function == 1) {
                e.ebx = (e.ebx & 0x00ffffff) | (id_ << 24);   // initial APIC ID
            } else if (e.function == 0xb || e.function == 0x1f) {
                e.edx = id_;                                  // x2APIC ID
            }
        }
        if (ioctl(fd_.get(), ioctl_set_cpuid2, c) < 0) throw_errno(exit_kvm_unavailable, "KVM_SET_CPUID2");
        return;
    }
    throw fatal_error(exit_kvm_unavailable, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

bool kvm_vcpu::set_xcr(uint32_t index, uint64_t value) {
    kvm_xcrs x{};
    x.nr_xcrs = 1;
    x.xcrs[0].xcr = index;
    x.xcrs[0].value = value;
    if (ioctl(fd_.get(), KVM_SET_XCRS, &x) == 0) return true;
    if (errno == EINVAL) return false;
    throw_errno(exit_kvm_unavailable, "KVM_SET_XCRS");
}

kvm_sregs kvm_vcpu::get_sregs() const {
    kvm_sregs s{};
    if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) throw_errno(exit_kvm_unavailable, "KVM_GET_SREGS");
    return s;
}

void kvm_vcpu::set_sregs(const kvm_sregs& s) {
    if (ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) throw_errno(exit_kvm_unavailable, "KVM_SET_SREGS (long-mode state)");
}

kvm_regs kvm_vcpu::get_regs() const {
    kvm_regs r{};
    if (ioctl(fd_.get(), KVM_GET_REGS, &r) < 0) throw_errno(exit_kvm_unavailable, "KVM_GET_REGS");
    return r;
}

void kvm_vcpu::set_regs(const kvm_regs& r) {
    if (ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) throw_errno(exit_kvm_unavailable, "KVM_SET_REGS");
}

std::string kvm_vcpu::describe_lapic() const {
    kvm_lapic_state la{};
    if (ioctl(fd_.get(), KVM_GET_LAPIC, &la) < 0) return "LAPIC state unavailable";
    auto reg = [&](unsigned off) {
        uint32_t v;
        std::memcpy(&v, la.regs + off, sizeof v);
        return v;
    };
    char b[96];
    std::snprintf(b, sizeof b, "LAPIC SVR %x LVT0 %x LVT timer %x", reg(0xf0), reg(0x350), reg(0x320));
    return b;
}

int kvm_vcpu::run() {
    if (ioctl(fd_.get(), KVM_RUN, 0) < 0) return -errno;
    return 0;
}

}  // namespace afterburn::kvm
