#include <catch2/catch.hpp>

#include <string>

#include "machine.h"
#include "wedge/cpuid_policy.h"

using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

cpuid_policy built()
{
    cpuid_policy p;
    p.build(max_cpu, nullptr);
    return p;
}

bool visible(const cpuid_policy &p, cpu_feature f, cpuid_dynamic d = {})
{
    cpuid_regs r = p.query(f.leaf, f.subleaf, d);
    uint32_t v = f.reg == cpuid_reg::eax ? r.eax : f.reg == cpuid_reg::ebx ? r.ebx : f.reg == cpuid_reg::ecx ? r.ecx : r.edx;
    return (v >> f.bit) & 1;
}

} // namespace

TEST_CASE("cpuid policy hides what the wedge does not virtualize", "[cpuid]")
{
    cpuid_policy p = built();
    for (cpu_feature f : {feature::smap, feature::pku, feature::ospke, feature::xsaves, feature::xsavec,
                          feature::pcid, feature::invpcid, feature::vmx, feature::svm, feature::monitor,
                          feature::rdpid, feature::waitpkg, feature::la57, feature::tsc_deadline, feature::mce,
                          feature::mca, feature::mtrr, feature::fsgsbase, feature::umip, feature::smep,
                          feature::xgetbv_ecx1, feature::page1gb}) {
        INFO("leaf " << std::hex << f.leaf << " subleaf " << f.subleaf << " bit " << std::dec << int(f.bit));
        CHECK_FALSE(visible(p, f));
        CHECK_FALSE(p.has(f));
    }
}

TEST_CASE("cpuid policy keeps what runs natively or is emulated", "[cpuid]")
{
    cpuid_policy p = built();
    for (cpu_feature f : {feature::sse, feature::fxsr, feature::pae, feature::pge, feature::pat, feature::apic,
                          feature::x2apic, feature::xsave, feature::avx, feature::avx2, feature::avx512f,
                          feature::syscall, feature::nx, feature::rdtscp, feature::long_mode, feature::tsc,
                          feature::xsaveopt, feature::sep})
        CHECK(visible(p, f));
}

TEST_CASE("cpuid: PMU, MONITOR, topology and hypervisor leaves read as zero", "[cpuid]")
{
    cpuid_policy p = built();
    for (uint32_t leaf : {0x5u, 0x6u, 0xau, 0xbu, 0x40000000u, 0x40000001u, 0x40000100u}) {
        cpuid_regs r = p.query(leaf, 0, {});
        INFO("leaf " << std::hex << leaf);
        CHECK(r.eax == 0);
        CHECK(r.ebx == 0);
        CHECK(r.ecx == 0);
        CHECK(r.edx == 0);
    }
    // The HYPERVISOR bit says "virtualized", with no interface behind it.
    CHECK(visible(p, feature::hypervisor));
}

TEST_CASE("cpuid: an announced hypervisor is leaf 0x40000000 alone", "[cpuid]")
{
    cpuid_policy p = built();
    p.announce_hypervisor("VMwareVMware");
    cpuid_regs r = p.query(0x40000000u, 0, {});
    CHECK(r.eax == 0x40000000u);  // no leaf beyond it (Linux then uses the I/O port form)
    char name[13] = {};
    for (unsigned i = 0; i < 4; ++i) {
        name[i] = static_cast<char>(r.ebx >> (8 * i));
        name[4 + i] = static_cast<char>(r.ecx >> (8 * i));
        name[8 + i] = static_cast<char>(r.edx >> (8 * i));
    }
    CHECK(std::string(name) == "VMwareVMware");
    for (uint32_t leaf : {0x40000001u, 0x40000010u, 0x40000100u}) {
        cpuid_regs z = p.query(leaf, 0, {});
        CHECK((z.eax | z.ebx | z.ecx | z.edx) == 0);
    }
}

TEST_CASE("cpuid: leaf ranges are clamped and out-of-range leaves repeat the highest basic leaf", "[cpuid]")
{
    cpuid_policy p = built();
    CHECK(p.query(0, 0, {}).eax == 0xd);
    CHECK(p.query(0, 0, {}).ebx == 0x756e6547);  // vendor passes through
    CHECK(p.query(0x80000000u, 0, {}).eax == 0x80000008u);
    cpuid_regs top = p.query(0xd, 0, {});
    cpuid_regs beyond = p.query(0x14, 0, {});
    CHECK(beyond.eax == top.eax);
    CHECK(beyond.ebx == top.ebx);
    CHECK(p.query(7, 0, {}).eax == 0);  // no subleaves beyond 0
    CHECK(p.query(0x80000008u, 0, {}).eax == ((48u << 8) | 0x30));
    CHECK(p.physical_address_bits() == 0x30);
}

TEST_CASE("cpuid: leaf 1 carries the vCPU's APIC ID, OSXSAVE and APIC enable", "[cpuid]")
{
    cpuid_policy p = built();
    cpuid_dynamic d;
    d.apic_id = 5;
    d.osxsave = false;
    cpuid_regs r = p.query(1, 0, d);
    CHECK((r.ebx >> 24) == 5);
    CHECK(((r.ebx >> 16) & 0xff) == 1);
    CHECK_FALSE(((r.ecx >> 27) & 1));
    d.osxsave = true;
    d.apic_enabled = false;
    r = p.query(1, 0, d);
    CHECK(((r.ecx >> 27) & 1));
    CHECK_FALSE(((r.edx >> 9) & 1));
    CHECK(p.query(4, 0, d).eax >> 14 == 0);  // no core/thread sharing counts
}

TEST_CASE("cpuid: leaf 0xd is consistent with the XCR0 components offered", "[cpuid]")
{
    cpuid_policy p = built();
    // x87, SSE, AVX, AVX-512; MPX (3,4) and PKRU (9) are not offered.
    CHECK(p.supported_xcr0() == 0xe7);
    cpuid_regs d0 = p.query(0xd, 0, {});
    CHECK(d0.eax == 0xe7);
    CHECK(d0.edx == 0);
    CHECK(d0.ecx == 1664 + 1024);  // everything offered
    CHECK(p.query(0xd, 0, cpuid_dynamic{0, true, false, true, 0x3}).ebx == 576);
    CHECK(p.query(0xd, 0, cpuid_dynamic{0, true, false, true, 0x7}).ebx == 832);
    CHECK(p.query(0xd, 0, cpuid_dynamic{0, true, false, true, 0xe7}).ebx == 2688);
    CHECK(p.query(0xd, 1, {}).eax == 1);      // XSAVEOPT only
    CHECK(p.query(0xd, 2, {}).eax == 256);    // AVX component size and offset
    CHECK(p.query(0xd, 2, {}).ebx == 576);
    CHECK(p.query(0xd, 3, {}).eax == 0);      // MPX hidden
    CHECK(p.query(0xd, 9, {}).eax == 0);      // PKRU hidden
}

TEST_CASE("cpuid: CR4 bits follow the policy", "[cpuid]")
{
    cpuid_policy p = built();
    uint64_t cr4 = p.allowed_cr4();
    CHECK((cr4 & cr4::pae));
    CHECK((cr4 & cr4::pge));
    CHECK((cr4 & cr4::osxsave));
    CHECK_FALSE((cr4 & cr4::smap));
    CHECK_FALSE((cr4 & cr4::pke));
    CHECK_FALSE((cr4 & cr4::pcide));
    CHECK_FALSE((cr4 & cr4::fsgsbase));
    CHECK_FALSE((cr4 & cr4::la57));
}

TEST_CASE("cpuid: without AVX-512 state the AVX-512 feature bits go too", "[cpuid]")
{
    cpuid_policy p;
    p.build(
        [](uint32_t leaf, uint32_t subleaf, void *) {
            cpuid_regs r = max_cpu(leaf, subleaf, nullptr);
            if (leaf == 0xd && subleaf == 0) r.eax = 0x7;  // x87 SSE AVX only
            return r;
        },
        nullptr);
    CHECK(p.supported_xcr0() == 0x7);
    CHECK_FALSE(p.has(feature::avx512f));
    CHECK(p.has(feature::avx2));
}
