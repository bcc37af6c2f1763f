// What the guest sees from cpuid. Built once from the real CPU's values (as the wedge reads
// them on its hypervisor) and filtered through an allow-list: a feature bit reaches the
// guest only if the wedge virtualizes what it enables, so the guest's feature detection
// (and Linux's alternatives) never switch to instructions or state the wedge cannot handle.
// Fixed-size, no allocation. The table of allowed bits is in cpuid_policy.cpp.
#pragma once

#include <stdint.h>

namespace afterburn::wedge {

struct cpuid_regs {
    uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// Where the real values come from: the cpuid instruction in the wedge, a table in tests.
using cpuid_source = cpuid_regs (*)(uint32_t leaf, uint32_t subleaf, void *context);

enum class cpuid_reg : uint8_t { eax, ebx, ecx, edx };

// One feature bit: leaf, subleaf, register, bit.
struct cpu_feature {
    uint32_t leaf;
    uint32_t subleaf;
    cpuid_reg reg;
    uint8_t bit;
};

namespace feature {
inline constexpr cpu_feature monitor{1, 0, cpuid_reg::ecx, 3};
inline constexpr cpu_feature vmx{1, 0, cpuid_reg::ecx, 5};
inline constexpr cpu_feature pcid{1, 0, cpuid_reg::ecx, 17};
inline constexpr cpu_feature x2apic{1, 0, cpuid_reg::ecx, 21};
inline constexpr cpu_feature tsc_deadline{1, 0, cpuid_reg::ecx, 24};
inline constexpr cpu_feature xsave{1, 0, cpuid_reg::ecx, 26};
inline constexpr cpu_feature osxsave{1, 0, cpuid_reg::ecx, 27};
inline constexpr cpu_feature avx{1, 0, cpuid_reg::ecx, 28};
inline constexpr cpu_feature hypervisor{1, 0, cpuid_reg::ecx, 31};
inline constexpr cpu_feature de{1, 0, cpuid_reg::edx, 2};
inline constexpr cpu_feature pse{1, 0, cpuid_reg::edx, 3};
inline constexpr cpu_feature tsc{1, 0, cpuid_reg::edx, 4};
inline constexpr cpu_feature pae{1, 0, cpuid_reg::edx, 6};
inline constexpr cpu_feature mce{1, 0, cpuid_reg::edx, 7};
inline constexpr cpu_feature apic{1, 0, cpuid_reg::edx, 9};
inline constexpr cpu_feature sep{1, 0, cpuid_reg::edx, 11};
inline constexpr cpu_feature mtrr{1, 0, cpuid_reg::edx, 12};
inline constexpr cpu_feature pge{1, 0, cpuid_reg::edx, 13};
inline constexpr cpu_feature mca{1, 0, cpuid_reg::edx, 14};
inline constexpr cpu_feature pat{1, 0, cpuid_reg::edx, 16};
inline constexpr cpu_feature fxsr{1, 0, cpuid_reg::edx, 24};
inline constexpr cpu_feature sse{1, 0, cpuid_reg::edx, 25};
inline constexpr cpu_feature fsgsbase{7, 0, cpuid_reg::ebx, 0};
inline constexpr cpu_feature avx2{7, 0, cpuid_reg::ebx, 5};
inline constexpr cpu_feature smep{7, 0, cpuid_reg::ebx, 7};
inline constexpr cpu_feature invpcid{7, 0, cpuid_reg::ebx, 10};
inline constexpr cpu_feature avx512f{7, 0, cpuid_reg::ebx, 16};
inline constexpr cpu_feature smap{7, 0, cpuid_reg::ebx, 20};
inline constexpr cpu_feature umip{7, 0, cpuid_reg::ecx, 2};
inline constexpr cpu_feature pku{7, 0, cpuid_reg::ecx, 3};
inline constexpr cpu_feature ospke{7, 0, cpuid_reg::ecx, 4};
inline constexpr cpu_feature waitpkg{7, 0, cpuid_reg::ecx, 5};
inline constexpr cpu_feature la57{7, 0, cpuid_reg::ecx, 16};
inline constexpr cpu_feature rdpid{7, 0, cpuid_reg::ecx, 22};
inline constexpr cpu_feature xsaveopt{0xd, 1, cpuid_reg::eax, 0};
inline constexpr cpu_feature xsavec{0xd, 1, cpuid_reg::eax, 1};
inline constexpr cpu_feature xgetbv_ecx1{0xd, 1, cpuid_reg::eax, 2};
inline constexpr cpu_feature xsaves{0xd, 1, cpuid_reg::eax, 3};
inline constexpr cpu_feature svm{0x80000001, 0, cpuid_reg::ecx, 2};
inline constexpr cpu_feature syscall{0x80000001, 0, cpuid_reg::edx, 11};
inline constexpr cpu_feature nx{0x80000001, 0, cpuid_reg::edx, 20};
inline constexpr cpu_feature page1gb{0x80000001, 0, cpuid_reg::edx, 26};
inline constexpr cpu_feature rdtscp{0x80000001, 0, cpuid_reg::edx, 27};
inline constexpr cpu_feature long_mode{0x80000001, 0, cpuid_reg::edx, 29};
} // namespace feature

// XCR0 state components.
namespace xstate {
inline constexpr uint64_t x87 = 1, sse = 2, avx = 4, opmask = 1u << 5, zmm_hi256 = 1u << 6,
                          hi16_zmm = 1u << 7, avx512 = opmask | zmm_hi256 | hi16_zmm,
                          pkru = 1u << 9;
}

// The vCPU-dependent bits cpuid reports (they follow CR4, XCR0, APIC_BASE).
struct cpuid_dynamic {
    uint32_t apic_id = 0;
    bool osxsave = false;      // CR4.OSXSAVE
    bool ospke = false;        // CR4.PKE
    bool apic_enabled = true;  // IA32_APIC_BASE.EN
    uint64_t xcr0 = xstate::x87;
};

class cpuid_policy {
public:
    // Reads the real CPU through `source` and keeps the filtered view.
    void build(cpuid_source source, void *context);

    // The guest's view of one leaf, dynamic bits applied (what `cpuid` returns).
    cpuid_regs query(uint32_t leaf, uint32_t subleaf, const cpuid_dynamic &now) const;

    bool has(cpu_feature f) const;
    // Leaf 0x40000000 names this hypervisor (12 characters) with no further leaves; without
    // it every hypervisor leaf reads as zero. For an interface the wedge provides
    // (vmware_backdoor).
    void announce_hypervisor(const char (&signature)[13]);
    // The vendor string is "AuthenticAMD" (AMD's model-specific MSRs exist).
    bool is_amd() const;
    uint64_t supported_xcr0() const { return xcr0_mask_; }
    // Bytes an xsave area for these components needs (leaf 0xd subleaf 0 ebx).
    uint32_t xsave_size(uint64_t xcr0) const;
    unsigned physical_address_bits() const { return phys_bits_; }
    // CR4 bits the guest may set (others are reserved: mov to cr4 raises #GP).
    uint64_t allowed_cr4() const;

    static constexpr unsigned max_entries = 48;

private:
    struct entry {
        uint32_t leaf;
        uint32_t subleaf;
        cpuid_regs regs;
    };
    cpuid_regs stored(uint32_t leaf, uint32_t subleaf) const;
    void add(uint32_t leaf, uint32_t subleaf, const cpuid_regs &r);
    void clear_bit(cpu_feature f);

    entry entries_[max_entries]{};
    unsigned count_ = 0;
    cpuid_regs hypervisor_leaf_{};
    uint32_t max_basic_ = 0;
    uint32_t max_extended_ = 0;
    uint64_t xcr0_mask_ = 0;
    unsigned phys_bits_ = 36;
    uint32_t xsave_offset_[64]{};  // leaf 0xd: offset and size of each user component
    uint32_t xsave_bytes_[64]{};
};

} // namespace afterburn::wedge
