// Thin wrappers around single x86-64 instructions, most of them sensitive.
// Kept inline so each use is a plain instruction in the caller (as in Linux),
// which is what afterburn-as has to find and annotate.
#pragma once
#include <stdint.h>

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;

namespace x86 {

enum : u32 {
    msr_tsc = 0x10,
    msr_apic_base = 0x1b,
    msr_efer = 0xc0000080,
    msr_star = 0xc0000081,
    msr_lstar = 0xc0000082,
    msr_cstar = 0xc0000083,
    msr_fmask = 0xc0000084,
    msr_fs_base = 0xc0000100,
    msr_gs_base = 0xc0000101,
    msr_kernel_gs_base = 0xc0000102,
    msr_tsc_aux = 0xc0000103,
};
inline constexpr u64
    efer_sce = 1 << 0, efer_lme = 1 << 8, efer_lma = 1 << 10, efer_nxe = 1 << 11,
    cr0_pe = 1 << 0, cr0_ts = 1 << 3, cr0_wp = 1 << 16, cr0_pg = 1ul << 31,
    cr4_tsd = 1 << 2, cr4_pae = 1 << 5, cr4_pce = 1 << 8, cr4_osfxsr = 1 << 9,
    cr4_fsgsbase = 1 << 16, cr4_osxsave = 1 << 18,
    rf_cf = 1 << 0, rf_fixed = 1 << 1, rf_zf = 1 << 6, rf_tf = 1 << 8, rf_if = 1 << 9,
    rf_df = 1 << 10, rf_iopl3 = 3 << 12, rf_nt = 1 << 14, rf_rf = 1 << 16, rf_ac = 1 << 18;

inline void outb(u16 port, u8 v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline u8 inb(u16 port) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
inline void outsb(u16 port, const void* p, u64 n) {
    asm volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(port) : "memory");
}

inline u64 rdmsr(u32 msr) {
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (u64)hi << 32 | lo;
}
inline void wrmsr(u32 msr, u64 v) {
    asm volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

#define X86_CR(n)                                                                   \
    inline u64 read_cr##n() { u64 v; asm volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    inline void write_cr##n(u64 v) { asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
X86_CR(0) X86_CR(2) X86_CR(3) X86_CR(4) X86_CR(8)
#undef X86_CR

inline void invlpg(u64 va) { asm volatile("invlpg (%0)" ::"r"(va) : "memory"); }
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void hlt() { asm volatile("hlt" ::: "memory"); }
inline void pause() { asm volatile("pause" ::: "memory"); }
inline void wbinvd() { asm volatile("wbinvd" ::: "memory"); }
inline void swapgs() { asm volatile("swapgs" ::: "memory"); }
inline u64 rflags() { u64 f; asm volatile("pushfq; popq %0" : "=r"(f)::"memory"); return f; }
inline void set_rflags(u64 f) { asm volatile("pushq %0; popfq" ::"r"(f) : "memory", "cc"); }

struct cpuid_regs { u32 a, b, c, d; };
inline cpuid_regs cpuid(u32 leaf, u32 sub = 0) {
    cpuid_regs r;
    asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
    return r;
}
inline u64 rdtsc() { u32 lo, hi; asm volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64)hi << 32 | lo; }
inline u64 rdtscp(u32* aux) {
    u32 lo, hi;
    asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(*aux));
    return (u64)hi << 32 | lo;
}
inline u64 xgetbv(u32 idx) { u32 lo, hi; asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(idx)); return (u64)hi << 32 | lo; }
inline void xsetbv(u32 idx, u64 v) { asm volatile("xsetbv" ::"c"(idx), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }

struct [[gnu::packed]] desc_ptr { u16 limit; u64 base; };
inline void lgdt(const desc_ptr& d) { asm volatile("lgdt %0" ::"m"(d) : "memory"); }
inline void lidt(const desc_ptr& d) { asm volatile("lidt %0" ::"m"(d) : "memory"); }
inline desc_ptr sgdt() { desc_ptr d; asm volatile("sgdt %0" : "=m"(d)); return d; }
inline desc_ptr sidt() { desc_ptr d; asm volatile("sidt %0" : "=m"(d)); return d; }
inline void ltr(u16 sel) { asm volatile("ltr %0" ::"r"(sel) : "memory"); }
inline u16 str() { u16 s; asm volatile("str %0" : "=r"(s)); return s; }
inline void lldt(u16 sel) { asm volatile("lldt %0" ::"r"(sel) : "memory"); }
inline u16 sldt() { u16 s; asm volatile("sldt %0" : "=r"(s)); return s; }

#define X86_SEG(r)                                                                     \
    inline u16 read_##r() { u16 v; asm volatile("mov %%" #r ", %0" : "=r"(v)); return v; } \
    inline void write_##r(u16 v) { asm volatile("mov %0, %%" #r ::"r"(v) : "memory"); }
X86_SEG(ds) X86_SEG(es) X86_SEG(ss) X86_SEG(fs) X86_SEG(gs)
#undef X86_SEG
inline u16 read_cs() { u16 v; asm volatile("mov %%cs, %0" : "=r"(v)); return v; }

inline u64 gs_load(u64 off) { u64 v; asm volatile("movq %%gs:(%1), %0" : "=r"(v) : "r"(off)); return v; }
inline u64 fs_load(u64 off) { u64 v; asm volatile("movq %%fs:(%1), %0" : "=r"(v) : "r"(off)); return v; }

}  // namespace x86
