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
    MSR_TSC = 0x10,
    MSR_APIC_BASE = 0x1b,
    MSR_EFER = 0xc0000080,
    MSR_STAR = 0xc0000081,
    MSR_LSTAR = 0xc0000082,
    MSR_CSTAR = 0xc0000083,
    MSR_FMASK = 0xc0000084,
    MSR_FS_BASE = 0xc0000100,
    MSR_GS_BASE = 0xc0000101,
    MSR_KERNEL_GS_BASE = 0xc0000102,
    MSR_TSC_AUX = 0xc0000103,
};
inline constexpr u64
    EFER_SCE = 1 << 0, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11,
    CR0_PE = 1 << 0, CR0_TS = 1 << 3, CR0_WP = 1 << 16, CR0_PG = 1ul << 31,
    CR4_TSD = 1 << 2, CR4_PAE = 1 << 5, CR4_PCE = 1 << 8, CR4_OSFXSR = 1 << 9,
    CR4_FSGSBASE = 1 << 16, CR4_OSXSAVE = 1 << 18,
    RF_CF = 1 << 0, RF_FIXED = 1 << 1, RF_ZF = 1 << 6, RF_TF = 1 << 8, RF_IF = 1 << 9,
    RF_DF = 1 << 10, RF_IOPL3 = 3 << 12, RF_NT = 1 << 14, RF_RF = 1 << 16, RF_AC = 1 << 18;

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
