// The closed set of sensitive-instruction kinds an annotation record can name.
// Freestanding: shared by the build-time tools, the load-time rewriter and the wedge.
#pragma once

namespace afterburn {

// X-macro: kind identifier, the class name used in reports and JSON, minimum site size
// (instruction + padding, in bytes; see docs/annotation-format.md for why each size).
// int3/int1/into are not here: they raise an exception through the guest's IDT like any
// fault, which every backend already delivers; int3 is also the compiler's padding byte.
#define AFTERBURN_SITE_KINDS(X)         \
    X(none,          "none",          0) \
    X(cli,           "cli",           8) \
    X(sti,           "sti",           8) \
    X(pushf,         "pushf",         8) \
    X(popf,          "popf",          8) \
    X(mov_to_cr,     "mov_to_cr",     8) \
    X(mov_from_cr,   "mov_from_cr",   8) \
    X(mov_to_dr,     "mov_to_dr",     8) \
    X(mov_from_dr,   "mov_from_dr",   8) \
    X(lgdt,          "lgdt",          8) \
    X(lidt,          "lidt",          8) \
    X(lldt,          "lldt",          8) \
    X(ltr,           "ltr",           8) \
    X(sgdt,          "sgdt",          8) \
    X(sidt,          "sidt",          8) \
    X(sldt,          "sldt",          8) \
    X(str,           "str",           8) \
    X(in,            "in",            8) \
    X(out,           "out",           8) \
    X(ins,           "ins",           8) \
    X(outs,          "outs",          8) \
    X(hlt,           "hlt",           8) \
    X(invlpg,        "invlpg",        8) \
    X(invpcid,       "invpcid",       8) \
    X(wbinvd,        "wbinvd",        8) \
    X(rdmsr,         "rdmsr",         8) \
    X(wrmsr,         "wrmsr",         8) \
    X(rdtsc,         "rdtsc",         8) \
    X(rdtscp,        "rdtscp",        8) \
    X(rdpmc,         "rdpmc",         8) \
    X(cpuid,         "cpuid",         8) \
    X(swapgs,        "swapgs",        8) \
    X(sysret,        "sysret",        8) \
    X(iret,          "iret",          8) \
    X(xsetbv,        "xsetbv",        8) \
    X(xgetbv,        "xgetbv",        8) \
    X(wrpkru,        "wrpkru",        8) \
    X(rdpkru,        "rdpkru",        8) \
    X(monitor,       "monitor",       8) \
    X(mwait,         "mwait",         8) \
    X(lar,           "lar",           8) \
    X(lsl,           "lsl",           8) \
    X(verr,          "verr",          8) \
    X(verw,          "verw",          8) \
    X(mov_to_seg,    "mov_to_seg",    8) \
    X(mov_from_seg,  "mov_from_seg",  8) \
    X(push_seg,      "push_seg",      8) \
    X(pop_seg,       "pop_seg",       8) \
    X(wrfsbase,      "wrfsbase",      8) \
    X(wrgsbase,      "wrgsbase",      8) \
    X(rdfsbase,      "rdfsbase",      8) \
    X(rdgsbase,      "rdgsbase",      8) \
    X(clac,          "clac",          8) \
    X(stac,          "stac",          8) \
    X(smsw,          "smsw",          8) \
    X(lmsw,          "lmsw",          8) \
    X(clts,          "clts",          8) \
    X(invd,          "invd",          8) \
    X(sysexit,       "sysexit",       8) \
    X(sysenter,      "sysenter",      8) \
    X(int_n,         "int",           8) \
    X(lret,          "lret",          8) \
    X(ljmp,          "ljmp",          8) \
    X(lcall,         "lcall",         8) \
    X(xsaves,        "xsaves",        8) \
    X(xrstors,       "xrstors",       8) \
    X(rdpid,         "rdpid",         8) \
    X(code16_region, "code16_region", 0) \
    X(code32_region, "code32_region", 0) \
    X(page_table_store, "page_table_store", 8) \
    X(page_table_load,  "page_table_load",  8)

enum class site_kind : unsigned char {
#define AFTERBURN_KIND_ENUM(id, name, size) id,
    AFTERBURN_SITE_KINDS(AFTERBURN_KIND_ENUM)
#undef AFTERBURN_KIND_ENUM
    count
};

inline constexpr unsigned site_kind_count = static_cast<unsigned>(site_kind::count);

// Class name as printed by `afterburn scan` ("cli", "mov_to_cr", ...); nullptr if out of range.
constexpr const char *site_kind_name(site_kind k)
{
    constexpr const char *names[] = {
#define AFTERBURN_KIND_NAME(id, name, size) name,
        AFTERBURN_SITE_KINDS(AFTERBURN_KIND_NAME)
#undef AFTERBURN_KIND_NAME
    };
    return static_cast<unsigned>(k) < site_kind_count ? names[static_cast<unsigned>(k)] : nullptr;
}

// Bytes the site must span (instruction + padding) so every backend's replacement fits.
constexpr unsigned site_kind_min_size(site_kind k)
{
    constexpr unsigned char sizes[] = {
#define AFTERBURN_KIND_SIZE(id, name, size) size,
        AFTERBURN_SITE_KINDS(AFTERBURN_KIND_SIZE)
#undef AFTERBURN_KIND_SIZE
    };
    return static_cast<unsigned>(k) < site_kind_count ? sizes[static_cast<unsigned>(k)] : 0;
}

// Memory accesses found by the C type they touch (the compiler pass, afterburner/gcc-plugin),
// not by their opcode: an ordinary mov, xchg, rep movs or call to memcpy.
constexpr bool site_kind_is_page_table(site_kind k)
{
    return k == site_kind::page_table_store || k == site_kind::page_table_load;
}

// How a page-table site reaches the entries (the record's `special` field).
enum class page_table_form : unsigned char {
    memory_operand = 0,  // the instruction's memory operand (mem_*) is the entry
    string = 1,          // movs/stos: %rdi (and %rsi) point at the entries, %rcx counts
    block_call = 2,      // call or tail-jump to memcpy/memmove/memset: SysV arguments
    count
};

// True for the kinds that describe one instruction (not "none", not a region).
constexpr bool site_kind_is_instruction(site_kind k)
{
    return k != site_kind::none && k != site_kind::code16_region && k != site_kind::code32_region &&
           static_cast<unsigned>(k) < site_kind_count;
}

// Kinds padded natively with redundant CS prefixes in front of the instruction, so that the
// site stays one instruction (docs/annotation-format.md, "Padding sizes"). ins/outs keep NOP
// padding: a segment override names their source segment and the record says which. `int n`
// keeps it too: Xen's PV #GP path, which runs a guest kernel's `int n` through its trap table,
// resumes 2 bytes after the fault (it assumes `cd nn`). A page-table site takes prefixes only
// in its memory-operand form (record_check.h says so for a record), and no kind takes them on
// an instruction that has a segment override of its own.
constexpr bool site_kind_takes_prefix_padding(site_kind k)
{
    return site_kind_is_instruction(k) && k != site_kind::ins && k != site_kind::outs && k != site_kind::int_n;
}

} // namespace afterburn
