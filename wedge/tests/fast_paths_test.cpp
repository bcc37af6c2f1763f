// The vCPU page's fast-path bytes (wedge/fast_paths.h): an entry stub that finishes a site
// without the core must give the core's answer, so the page says when it may and what it needs.
#include <catch2/catch.hpp>

#include "machine.h"
#include "wedge/fast_paths.h"
#include "wedge/msrs.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

// What the Xen wedge's rdtsc/rdtscp fast paths compute: the real TSC plus the page's offset,
// and the page's TSC_AUX in ECX.
uint64_t fast_tsc(const machine &m) { return m.be.tsc + static_cast<uint64_t>(m.cpu.page.tsc_offset); }

cpuid_regs cpu_without_rdtscp(uint32_t leaf, uint32_t subleaf, void *ctx)
{
    cpuid_regs r = max_cpu(leaf, subleaf, ctx);
    if (leaf == 0x80000001) r.edx &= ~(1u << 27);
    return r;
}

} // namespace

TEST_CASE("the page's TSC offset and TSC_AUX give what the rdtsc and rdtscp sites give", "[fast_paths][tsc]")
{
    machine m;
    m.be.tsc = 1000000;
    // The guest moves its TSC back (a wrmsr to IA32_TSC), then sets TSC_AUX.
    REQUIRE(write_msr(m.cpu, m.be, msr::tsc, 400));
    REQUIRE(write_msr(m.cpu, m.be, msr::tsc_aux, 5));
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    m.be.tsc += 77;
    REQUIRE(m.run(record(site_kind::rdtscp)).what == action::resume);
    uint64_t core = (m.f.gpr[rdx] << 32) | (m.f.gpr[rax] & 0xffffffffu);
    CHECK(core == 477);
    CHECK(fast_tsc(m) == core);
    CHECK(m.cpu.page.tsc_aux == m.f.gpr[rcx]);
    CHECK((m.cpu.page.inline_tsc & wedge_abi::inline_tsc_rdtsc));
    CHECK((m.cpu.page.inline_tsc & wedge_abi::inline_tsc_rdtscp));

    // Forward past 2^32: the offset is signed, the page keeps all 64 bits.
    REQUIRE(write_msr(m.cpu, m.be, msr::tsc, 0x100000005ull));
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    REQUIRE(m.run(record(site_kind::rdtsc)).what == action::resume);
    CHECK(fast_tsc(m) == ((m.f.gpr[rdx] << 32) | m.f.gpr[rax]));
}

TEST_CASE("rdtsc and rdtscp stay with the core where they can fault", "[fast_paths][tsc]")
{
    machine m;
    m.cpu.cr4 |= cr4::tsd;
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    CHECK(m.cpu.page.inline_tsc == (wedge_abi::inline_tsc_rdtsc | wedge_abi::inline_tsc_rdtscp));  // CPL 0
    m.enter_user();
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    CHECK(m.cpu.page.inline_tsc == 0);  // CPL 3 with TSD: #GP
    m.cpu.cr4 &= ~cr4::tsd;
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    CHECK(m.cpu.page.inline_tsc == (wedge_abi::inline_tsc_rdtsc | wedge_abi::inline_tsc_rdtscp));

    machine n;
    n.cpu.cpuid.build(cpu_without_rdtscp, nullptr);
    publish_fast_paths(n.cpu, find_fast_path_facts(n.cpu, true));
    CHECK(n.cpu.page.inline_tsc == wedge_abi::inline_tsc_rdtsc);  // rdtscp: #UD from the core
}

TEST_CASE("sti, pushf and popf fast paths only where the core would not fault or keep IF", "[fast_paths][flags]")
{
    machine m;
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    CHECK(m.cpu.page.inline_sti == 1);
    CHECK(m.cpu.page.inline_flags == 1);
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, false));  // a 16-bit pushf/popf among the sites
    CHECK(m.cpu.page.inline_flags == 0);
    m.cpu.iopl = 3;
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    CHECK(m.cpu.page.inline_flags == 0);  // pushf shows IOPL, popf may change it
    CHECK(m.cpu.page.inline_sti == 1);
    m.cpu.iopl = 0;
    m.cpu.cpl = 1;  // a ring-1 guest runs in Xen's kernel mode too
    publish_fast_paths(m.cpu, find_fast_path_facts(m.cpu, true));
    CHECK(m.cpu.page.inline_flags == 0);  // popf keeps IF at CPL > IOPL
    CHECK(m.cpu.page.inline_sti == 0);    // sti raises #GP
}
