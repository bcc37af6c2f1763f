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

Vcpu::Vcpu(const Vm& vm, unsigned id) : id_(id) {
    int f = ioctl(vm.fd(), KVM_CREATE_VCPU, id);
    if (f < 0) throw_errno(kKvmUnavailable, "KVM_CREATE_VCPU");
    fd_ = Fd(f);
    int size = ioctl(vm.kvm_fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size < static_cast<int>(sizeof(kvm_run))) throw_errno(kKvmUnavailable, "KVM_GET_VCPU_MMAP_SIZE");
    run_size_ = static_cast<size_t>(size);
    void* p = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (p == MAP_FAILED) throw_errno(kKvmUnavailable, "mmap(kvm_run)");
    run_ = static_cast<kvm_run*>(p);
}

Vcpu::~Vcpu() {
    if (run_) munmap(run_, run_size_);
}

namespace {
// struct kvm_cpuid2 as the kernel sees it: {nent, padding} then the entries. Not the
// uapi struct itself: its flexible array (__DECLARE_FLEX_ARRAY) compiles in C++ as an
// empty struct of size 1, which makes sizeof 12 and moves the entries to offset 12,
// so both the ioctl numbers (the size is encoded in them) and the layout would be wrong.
struct CpuidHeader {
    uint32_t nent;
    uint32_t padding;
};
static_assert(sizeof(CpuidHeader) == 8);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);   // KVM_GET_SUPPORTED_CPUID
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);           // KVM_SET_CPUID2
}  // namespace

void Vcpu::set_supported_cpuid(const Vm& vm) {
    // Room for `n` entries after the header; retried larger on E2BIG.
    for (unsigned n = 64; n <= 4096; n *= 2) {
        size_t bytes = sizeof(CpuidHeader) + n * sizeof(kvm_cpuid_entry2);
        std::vector<uint64_t> buf((bytes + 7) / 8, 0);
        auto* c = reinterpret_cast<CpuidHeader*>(buf.data());
        auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(c + 1);
        c->nent = n;
        if (ioctl(vm.kvm_fd(), kGetSupportedCpuid, c) < 0) {
            if (errno == E2BIG) continue;
            throw_errno(kKvmUnavailable, "KVM_GET_SUPPORTED_CPUID");
        }
        for (uint32_t i = 0; i < c->nent; i++) {
            kvm_cpuid_entry2& e = entries[i];
            if (e.function == 1) {
                e.ebx = (e.ebx & 0x00ffffff) | (id_ << 24);   // initial APIC ID
            } else if (e.function == 0xb || e.function == 0x1f) {
                e.edx = id_;                                  // x2APIC ID
            }
        }
        if (ioctl(fd_.get(), kSetCpuid2, c) < 0) throw_errno(kKvmUnavailable, "KVM_SET_CPUID2");
        return;
    }
    throw Error(kKvmUnavailable, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

kvm_sregs Vcpu::get_sregs() const {
    kvm_sregs s{};
    if (ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) throw_errno(kKvmUnavailable, "KVM_GET_SREGS");
    return s;
}

void Vcpu::set_sregs(const kvm_sregs& s) {
    if (ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) throw_errno(kKvmUnavailable, "KVM_SET_SREGS (long-mode state)");
}

kvm_regs Vcpu::get_regs() const {
    kvm_regs r{};
    if (ioctl(fd_.get(), KVM_GET_REGS, &r) < 0) throw_errno(kKvmUnavailable, "KVM_GET_REGS");
    return r;
}

void Vcpu::set_regs(const kvm_regs& r) {
    if (ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) throw_errno(kKvmUnavailable, "KVM_SET_REGS");
}

std::string Vcpu::describe_lapic() const {
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

int Vcpu::run() {
    if (ioctl(fd_.get(), KVM_RUN, 0) < 0) return -errno;
    return 0;
}

}  // namespace afterburn::kvm
