#include "wedge/cpuid_policy.h"

namespace afterburn::wedge {

namespace {

template <typename... B>
constexpr uint32_t bits(B... b)
{
    return ((1u << b) | ... | 0u);
}

constexpr uint32_t all = 0xffffffffu;

// The allow-list: for each leaf the wedge passes through, the bits of each register the guest
// may see. Leaves not listed here read as zero. A bit is allowed when the state it enables
// is either harmless to the wedge (plain ALU/SIMD instructions that run natively) or
// virtualized by it. Leaves computed by build() (0xd, parts of 1, 4, 0x80000008) are noted.
struct leaf_mask {
    uint32_t leaf;
    cpuid_regs allow;
};

constexpr leaf_mask masks[] = {
    // Vendor string; eax (max basic leaf) is clamped in build().
    {0x0, {all, all, all, all}},
    // eax: family/model/stepping. ebx: brand index and clflush size; the APIC ID (31:24)
    // is per vCPU. ecx: hidden are DTES64(2), MONITOR(3: no mwait emulation worth having),
    // DS-CPL(4), VMX(5), SMX(6), EST(7), TM2(8), SDBG(11), xTPR(14), PDCM(15), PCID(17: CR4.PCIDE
    // not virtualized), DCA(18), TSC-deadline(24: LAPIC timer has no TSC-deadline mode).
    // OSXSAVE(27) follows CR4. HYPERVISOR(31) is forced on by build(): the guest is
    // virtualized, and the bit keeps Linux off bare-metal-only paths (microcode loading),
    // while the hypervisor leaves 0x4000_0000+ read as zero (no PV interface is detected)
    // unless the backend announces one it provides (announce_hypervisor).
    {0x1,
     {all, 0x0000ffffu,
      bits(0, 1, 9, 12, 13, 19, 20, 21, 22, 23, 25, 26, 28, 29, 30),
      // edx: hidden are VME(1), MCE(7), MTRR(12), MCA(14), PSN(18), DS(21), ACPI(22),
      // HTT(28), TM(29), PBE(31): machine-check, MTRR and thermal MSRs are not emulated.
      bits(0, 2, 3, 4, 5, 6, 8, 9, 11, 13, 15, 16, 17, 19, 23, 24, 25, 26, 27)}},
    // Cache descriptors: informational.
    {0x2, {all, all, all, all}},
    // Deterministic cache parameters; build() clears the core/thread sharing counts.
    {0x4, {0x00003fffu, all, all, all}},
    // Structured extended features, subleaf 0 (eax: max subleaf, forced to 0).
    // ebx: hidden are FSGSBASE(0: user space would write the real bases behind the wedge),
    // TSC_ADJUST(1), SGX(2), HLE(4), SMEP(7), INVPCID(10), RTM(11), PQM(12), MPX(14), PQE(15),
    // SMAP(20), PT(25).
    {0x7,
     {0, bits(3, 5, 6, 8, 9, 13, 16, 17, 18, 19, 21, 23, 24, 26, 27, 28, 29, 30, 31),
      // ecx: hidden are UMIP(2), PKU(3), OSPKE(4), WAITPKG(5), CET_SS(7), TME(13), LA57(16),
      // RDPID(22), KL(23), ENQCMD(29), SGX_LC(30).
      bits(0, 1, 6, 8, 9, 10, 11, 12, 14, 25, 27, 28),
      // edx: AVX-512 extras, FSRM, MD_CLEAR and SERIALIZE; the speculation-control MSRs
      // (26-31), hybrid, PCONFIG, LBR, CET_IBT and AMX are hidden.
      bits(2, 3, 4, 8, 10, 14)}},
    // 0xd is computed in build(). 0x5 (MONITOR), 0x6 (power), 0xa (PMU), 0xb (topology)
    // read as zero.
    {0x80000000u, {0, all, all, all}},
    // ecx: LAHF(0), ABM(5), SSE4A(6), MisalignSSE(7), PREFETCHW(8), XOP(11), FMA4(16),
    // TBM(21); hidden SVM(2), ExtApicSpace(3), CR8_LEGACY(4), OSVW(9), IBS(10), SKINIT(12),
    // WDT(13), LWP(15), TOPOEXT(22), PERFCTR(23-24), MWAITX(29).
    // edx: SYSCALL(11), NX(20), MMXEXT(22), RDTSCP(27), LM(29), 3DNow(30-31); hidden
    // FFXSR(25), 1 GiB pages(26: left to backends whose page-table handling supports them).
    {0x80000001u, {all, 0, bits(0, 5, 6, 7, 8, 11, 16, 21), bits(11, 20, 22, 27, 29, 30, 31)}},
    {0x80000002u, {all, all, all, all}},  // brand string
    {0x80000003u, {all, all, all, all}},
    {0x80000004u, {all, all, all, all}},
    {0x80000005u, {all, all, all, all}},  // L1 cache / TLB (AMD)
    {0x80000006u, {all, all, all, all}},  // L2 cache
    {0x80000007u, {0, 0, 0, bits(8)}},    // invariant TSC only
    // eax: physical (7:0) and linear (15:8, forced to 48: LA57 hidden) address bits.
    {0x80000008u, {0x000000ffu, 0, 0, 0}},
};

// The vector register state the wedge lets the guest enable: the wedge itself never
// touches it (-mgeneral-regs-only), so it only has to keep XCR0 consistent. PKRU, AMX and
// the supervisor components (XSAVES) are not offered.
constexpr uint64_t xcr0_allowed = xstate::x87 | xstate::sse | xstate::avx | xstate::avx512;

// Feature bits that only make sense with a given XCR0 component.
constexpr cpu_feature needs_avx[] = {
    feature::avx, {1, 0, cpuid_reg::ecx, 12} /*FMA*/, {1, 0, cpuid_reg::ecx, 29} /*F16C*/,
    feature::avx2, {7, 0, cpuid_reg::ecx, 9} /*VAES*/, {7, 0, cpuid_reg::ecx, 10} /*VPCLMULQDQ*/,
    {0x80000001u, 0, cpuid_reg::ecx, 11} /*XOP*/, {0x80000001u, 0, cpuid_reg::ecx, 16} /*FMA4*/,
};
constexpr uint32_t avx512_leaf7_ebx = bits(16, 17, 21, 26, 27, 28, 30, 31);
constexpr uint32_t avx512_leaf7_ecx = bits(1, 6, 11, 12, 14);
constexpr uint32_t avx512_leaf7_edx = bits(2, 3, 8);

uint32_t &reg_of(cpuid_regs &r, cpuid_reg which)
{
    switch (which) {
    case cpuid_reg::eax: return r.eax;
    case cpuid_reg::ebx: return r.ebx;
    case cpuid_reg::ecx: return r.ecx;
    default: return r.edx;
    }
}

uint32_t reg_of(const cpuid_regs &r, cpuid_reg which)
{
    return reg_of(const_cast<cpuid_regs &>(r), which);
}

cpuid_regs masked(const cpuid_regs &raw, const cpuid_regs &allow)
{
    return {raw.eax & allow.eax, raw.ebx & allow.ebx, raw.ecx & allow.ecx, raw.edx & allow.edx};
}

const leaf_mask *mask_for(uint32_t leaf)
{
    for (const auto &m : masks)
        if (m.leaf == leaf) return &m;
    return nullptr;
}

constexpr uint32_t legacy_xsave_bytes = 512 + 64;  // FXSAVE image + XSAVE header

} // namespace

void cpuid_policy::add(uint32_t leaf, uint32_t subleaf, const cpuid_regs &r)
{
    if (count_ < max_entries) entries_[count_++] = entry{leaf, subleaf, r};
}

cpuid_regs cpuid_policy::stored(uint32_t leaf, uint32_t subleaf) const
{
    for (unsigned i = 0; i < count_; ++i)
        if (entries_[i].leaf == leaf && entries_[i].subleaf == subleaf) return entries_[i].regs;
    return {};
}

void cpuid_policy::clear_bit(cpu_feature f)
{
    for (unsigned i = 0; i < count_; ++i)
        if (entries_[i].leaf == f.leaf && entries_[i].subleaf == f.subleaf)
            reg_of(entries_[i].regs, f.reg) &= ~(1u << f.bit);
}

bool cpuid_policy::is_amd() const
{
    cpuid_regs v = stored(0, 0);
    return v.ebx == 0x68747541u && v.edx == 0x69746e65u && v.ecx == 0x444d4163u;  // "Auth" "enti" "cAMD"
}

bool cpuid_policy::has(cpu_feature f) const
{
    return (reg_of(stored(f.leaf, f.subleaf), f.reg) >> f.bit) & 1;
}

void cpuid_policy::build(cpuid_source source, void *context)
{
    count_ = 0;
    cpuid_regs leaf0 = source(0, 0, context);
    max_basic_ = leaf0.eax < 0xd ? leaf0.eax : 0xd;
    cpuid_regs ext0 = source(0x80000000u, 0, context);
    bool has_extended = ext0.eax >= 0x80000000u && ext0.eax < 0x8000ffffu;
    max_extended_ = has_extended ? (ext0.eax < 0x80000008u ? ext0.eax : 0x80000008u) : 0;

    for (uint32_t leaf = 0; leaf <= max_basic_; ++leaf) {
        const leaf_mask *m = mask_for(leaf);
        if (leaf == 4) {
            // One subleaf per cache level until the "no more caches" type.
            for (uint32_t sub = 0; sub < 8; ++sub) {
                cpuid_regs r = masked(source(4, sub, context), m->allow);
                add(4, sub, r);
                if ((r.eax & 0x1f) == 0) break;
            }
        } else if (m) {
            add(leaf, 0, masked(source(leaf, 0, context), m->allow));
        } else {
            add(leaf, 0, {});  // in range, reads as zero
        }
    }
    for (unsigned i = 0; i < count_; ++i)
        if (entries_[i].leaf == 0) entries_[i].regs.eax = max_basic_;
    for (unsigned i = 0; i < count_; ++i)
        if (entries_[i].leaf == 1) {
            entries_[i].regs.ebx |= 1u << 16;  // one logical CPU per package
            entries_[i].regs.ecx |= 1u << feature::hypervisor.bit;
        }

    // Extended leaves.
    if (has_extended) {
        for (uint32_t leaf = 0x80000000u; leaf <= max_extended_; ++leaf) {
            const leaf_mask *m = mask_for(leaf);
            add(leaf, 0, m ? masked(source(leaf, 0, context), m->allow) : cpuid_regs{});
        }
        for (unsigned i = 0; i < count_; ++i) {
            if (entries_[i].leaf == 0x80000000u) entries_[i].regs.eax = max_extended_;
            if (entries_[i].leaf == 0x80000008u) {
                entries_[i].regs.eax = (entries_[i].regs.eax & 0xff) | (48u << 8);
                phys_bits_ = entries_[i].regs.eax & 0xff;
            }
        }
    }

    // XSAVE: offer the allowed components the CPU has, each group complete.
    xcr0_mask_ = 0;
    if (has(feature::xsave) && max_basic_ >= 0xd) {
        cpuid_regs d0 = source(0xd, 0, context);
        uint64_t raw = d0.eax | (static_cast<uint64_t>(d0.edx) << 32);
        uint64_t mask = raw & xcr0_allowed;
        if ((mask & (xstate::x87 | xstate::sse)) != (xstate::x87 | xstate::sse)) mask = 0;
        if (!(mask & xstate::avx)) mask &= ~xstate::avx512;
        if ((mask & xstate::avx512) != xstate::avx512) mask &= ~xstate::avx512;
        xcr0_mask_ = mask;
        for (unsigned c = 2; c < 64; ++c) {
            if (!((mask >> c) & 1)) continue;
            cpuid_regs dc = source(0xd, c, context);
            xsave_bytes_[c] = dc.eax;
            xsave_offset_[c] = dc.ebx;
        }
        // The xsave entry for leaf 0xd was added as zeros above; fill in its subleaves.
        for (unsigned i = 0; i < count_; ++i)
            if (entries_[i].leaf == 0xd) {
                entries_[i].regs = cpuid_regs{static_cast<uint32_t>(mask), xsave_size(xstate::x87 | xstate::sse),
                                              xsave_size(mask), static_cast<uint32_t>(mask >> 32)};
            }
        cpuid_regs d1 = source(0xd, 1, context);
        add(0xd, 1, {d1.eax & bits(0), 0, 0, 0});  // XSAVEOPT only; XSAVEC, XGETBV1, XSAVES hidden
        for (unsigned c = 2; c < 64; ++c)
            if ((mask >> c) & 1) add(0xd, c, {xsave_bytes_[c], xsave_offset_[c], 0, 0});
    } else {
        clear_bit(feature::xsave);
    }

    // Consistency: no feature whose register state the guest cannot enable.
    if (!(xcr0_mask_ & xstate::avx))
        for (const auto &f : needs_avx) clear_bit(f);
    if (!(xcr0_mask_ & xstate::avx512)) {
        for (unsigned i = 0; i < count_; ++i)
            if (entries_[i].leaf == 7 && entries_[i].subleaf == 0) {
                entries_[i].regs.ebx &= ~avx512_leaf7_ebx;
                entries_[i].regs.ecx &= ~avx512_leaf7_ecx;
                entries_[i].regs.edx &= ~avx512_leaf7_edx;
            }
    }
    clear_bit(feature::osxsave);  // dynamic
}

uint32_t cpuid_policy::xsave_size(uint64_t xcr0) const
{
    uint32_t size = legacy_xsave_bytes;
    for (unsigned c = 2; c < 64; ++c)
        if (((xcr0 & xcr0_mask_) >> c) & 1) {
            uint32_t end = xsave_offset_[c] + xsave_bytes_[c];
            if (end > size) size = end;
        }
    return size;
}

uint64_t cpuid_policy::allowed_cr4() const
{
    // VME/PVI (0-1) are hidden; TSD(2), DE(3), PSE(4), PAE(5), MCE(6) only with machine
    // checks (hidden), PGE(7), PCE(8: rdpmc has no counters but the bit is harmless),
    // OSFXSR(9), OSXMMEXCPT(10).
    uint64_t cr4 = (1u << 2) | (1u << 8) | (1u << 9) | (1u << 10);
    if (has(feature::de)) cr4 |= 1u << 3;
    if (has(feature::pse)) cr4 |= 1u << 4;
    if (has(feature::pae)) cr4 |= 1u << 5;
    if (has(feature::pge)) cr4 |= 1u << 7;
    if (has(feature::umip)) cr4 |= 1u << 11;
    if (has(feature::la57)) cr4 |= 1u << 12;
    if (has(feature::fsgsbase)) cr4 |= 1u << 16;
    if (has(feature::pcid)) cr4 |= 1u << 17;
    if (has(feature::xsave)) cr4 |= 1u << 18;
    if (has(feature::smep)) cr4 |= 1u << 20;
    if (has(feature::smap)) cr4 |= 1u << 21;
    if (has(feature::pku)) cr4 |= 1u << 22;
    return cr4;
}

void cpuid_policy::announce_hypervisor(const char (&signature)[13])
{
    uint32_t words[3] = {};
    for (unsigned i = 0; i < 12; ++i)
        words[i / 4] |= static_cast<uint32_t>(static_cast<uint8_t>(signature[i])) << (8 * (i % 4));
    hypervisor_leaf_ = {0x40000000u, words[0], words[1], words[2]};
}

cpuid_regs cpuid_policy::query(uint32_t leaf, uint32_t subleaf, const cpuid_dynamic &now) const
{
    // Hypervisor leaves: the announced one, if any; probing finds nothing else.
    if (leaf == 0x40000000u) return hypervisor_leaf_;
    if (leaf > 0x40000000u && leaf < 0x50000000u) return {};
    if (leaf >= 0x80000000u) {
        if (leaf > max_extended_) leaf = max_basic_, subleaf = 0;  // Intel: highest basic leaf
    } else if (leaf > max_basic_) {
        leaf = max_basic_;
    }
    // Only 4, 7 and 0xd have subleaves; the others ignore ecx.
    if (leaf != 4 && leaf != 7 && leaf != 0xd) subleaf = 0;
    cpuid_regs r = stored(leaf, subleaf);
    if (leaf == 1) {
        r.ebx = (r.ebx & 0x00ffffffu) | (now.apic_id << 24);
        if (now.osxsave) r.ecx |= 1u << feature::osxsave.bit;
        if (!now.apic_enabled) r.edx &= ~(1u << feature::apic.bit);
    }
    if (leaf == 7 && subleaf == 0 && now.ospke && has(feature::pku)) r.ecx |= 1u << feature::ospke.bit;
    if (leaf == 0xd && subleaf == 0 && xcr0_mask_) r.ebx = xsave_size(now.xcr0);
    return r;
}

} // namespace afterburn::wedge
