// Sensitive instructions that are never annotated: each is reachable only when CPUID reports
// a feature (or a hypervisor interface) that the wedge's CPUID policy hides, so a guest that
// follows CPUID never executes it de-privileged; if one runs anyway it traps like on a CPU
// without the feature (#UD) and the wedge names it. rdrand/rdseed are the exception: they are
// unprivileged and never intercepted, so they run natively whether the policy shows them or
// not. `afterburn scan` counts every class and explains it by checking the gate against the
// policy (afterburner/lib/gate_check.cpp); docs/annotation-format.md lists the whole set.
// Freestanding: shared by the scanner, the wedge's fallback decoder and the census tests.
#pragma once

#include <stdint.h>

namespace afterburn {

// The CPUID bit a class needs: leaf, subleaf, register (0 eax, 1 ebx, 2 ecx, 3 edx), bit.
// bit == gate_whole_register: the register must be non-zero (a hypervisor signature).
inline constexpr uint8_t gate_whole_register = 0xff;

struct cpuid_gate {
    uint32_t leaf;
    uint32_t subleaf;
    uint8_t reg;
    uint8_t bit;
    const char *name;  // as the manuals spell it, e.g. "CPUID.01H:ECX.VMX[5]"
};

// X-macro: identifier, class name (scan, JSON, census), gate, privileged (true: the
// instruction must never run in a de-privileged guest, so the gate has to be hidden; false:
// it behaves the same at any privilege and no backend intercepts it), what it is.
#define AFTERBURN_GATED_CLASSES(X)                                                                          \
    X(vmcall,    "vmcall",    (cpuid_gate{0x40000000u, 0, 1, gate_whole_register, "CPUID.40000000H:EBX (hypervisor signature)"}), true, "hypercall (KVM, VMware, Hyper-V, Xen HVM)") \
    X(vmmcall,   "vmmcall",   (cpuid_gate{0x40000000u, 0, 1, gate_whole_register, "CPUID.40000000H:EBX (hypervisor signature)"}), true, "hypercall, AMD spelling") \
    X(vmx,       "vmx",       (cpuid_gate{1, 0, 2, 5, "CPUID.01H:ECX.VMX[5]"}), true, "VMX operation: vmxon vmxoff vmlaunch vmresume vmptrld vmptrst vmclear vmread vmwrite invept invvpid vmfunc") \
    X(svm,       "svm",       (cpuid_gate{0x80000001u, 0, 2, 2, "CPUID.80000001H:ECX.SVM[2]"}), true, "SVM: vmrun vmload vmsave stgi clgi skinit invlpga") \
    X(monitorx,  "monitorx",  (cpuid_gate{0x80000001u, 0, 2, 29, "CPUID.80000001H:ECX.MONITORX[29]"}), true, "AMD user-level monitor (delay loop)") \
    X(mwaitx,    "mwaitx",    (cpuid_gate{0x80000001u, 0, 2, 29, "CPUID.80000001H:ECX.MONITORX[29]"}), true, "AMD user-level mwait with timeout") \
    X(umonitor,  "umonitor",  (cpuid_gate{7, 0, 2, 5, "CPUID.(EAX=07H,ECX=0):ECX.WAITPKG[5]"}), true, "user-level monitor") \
    X(umwait,    "umwait",    (cpuid_gate{7, 0, 2, 5, "CPUID.(EAX=07H,ECX=0):ECX.WAITPKG[5]"}), true, "user-level mwait (TSC deadline)") \
    X(tpause,    "tpause",    (cpuid_gate{7, 0, 2, 5, "CPUID.(EAX=07H,ECX=0):ECX.WAITPKG[5]"}), true, "timed pause (delay loop)") \
    X(sgx,       "sgx",       (cpuid_gate{7, 0, 1, 2, "CPUID.(EAX=07H,ECX=0):EBX.SGX[2]"}), true, "enclave instructions: encls enclu enclv") \
    X(cet_ss,    "cet_ss",    (cpuid_gate{7, 0, 2, 7, "CPUID.(EAX=07H,ECX=0):ECX.CET_SS[7]"}), true, "shadow stack: incssp rdssp saveprevssp rstorssp wrss wruss setssbsy clrssbsy") \
    X(wbnoinvd,  "wbnoinvd",  (cpuid_gate{0x80000008u, 0, 1, 9, "CPUID.80000008H:EBX.WBNOINVD[9]"}), true, "write back caches without invalidating") \
    X(invlpgb,   "invlpgb",   (cpuid_gate{0x80000008u, 0, 1, 3, "CPUID.80000008H:EBX.INVLPGB[3]"}), true, "broadcast TLB invalidation") \
    X(tlbsync,   "tlbsync",   (cpuid_gate{0x80000008u, 0, 1, 3, "CPUID.80000008H:EBX.INVLPGB[3]"}), true, "wait for broadcast invalidations") \
    X(rdpru,     "rdpru",     (cpuid_gate{0x80000008u, 0, 1, 4, "CPUID.80000008H:EBX.RDPRU[4]"}), true, "read MPERF/APERF from user mode") \
    X(pconfig,   "pconfig",   (cpuid_gate{7, 0, 3, 18, "CPUID.(EAX=07H,ECX=0):EDX.PCONFIG[18]"}), true, "platform (memory encryption) configuration") \
    X(ptwrite,   "ptwrite",   (cpuid_gate{0x14, 0, 1, 4, "CPUID.(EAX=14H,ECX=0):EBX.PTWRITE[4]"}), true, "write to the processor-trace stream") \
    X(enqcmd,    "enqcmd",    (cpuid_gate{7, 0, 2, 29, "CPUID.(EAX=07H,ECX=0):ECX.ENQCMD[29]"}), true, "enqueue command (PASID MSR): enqcmd enqcmds") \
    X(uintr,     "uintr",     (cpuid_gate{7, 0, 3, 5, "CPUID.(EAX=07H,ECX=0):EDX.UINTR[5]"}), true, "user interrupts: uiret clui stui testui senduipi") \
    X(loadiwkey, "loadiwkey", (cpuid_gate{7, 0, 2, 23, "CPUID.(EAX=07H,ECX=0):ECX.KL[23]"}), true, "Key Locker wrapping key") \
    X(hreset,    "hreset",    (cpuid_gate{7, 1, 0, 22, "CPUID.(EAX=07H,ECX=1):EAX.HRESET[22]"}), true, "history reset (thread director)") \
    X(tsxldtrk,  "tsxldtrk",  (cpuid_gate{7, 0, 3, 16, "CPUID.(EAX=07H,ECX=0):EDX.TSXLDTRK[16]"}), true, "suspend/resume TSX load tracking: xsusldtrk xresldtrk") \
    X(sev_snp,   "sev_snp",   (cpuid_gate{0x8000001fu, 0, 0, 4, "CPUID.8000001FH:EAX.SEV_SNP[4]"}), true, "SEV-SNP: pvalidate rmpadjust rmpupdate psmash") \
    X(tdx,       "tdx",       (cpuid_gate{0x21, 0, 1, gate_whole_register, "CPUID.21H:EBX (\"IntelTDX\" signature)"}), true, "TDX: tdcall seamcall seamops seamret") \
    X(rdrand,    "rdrand",    (cpuid_gate{1, 0, 2, 30, "CPUID.01H:ECX.RDRAND[30]"}), false, "hardware random number") \
    X(rdseed,    "rdseed",    (cpuid_gate{7, 0, 1, 18, "CPUID.(EAX=07H,ECX=0):EBX.RDSEED[18]"}), false, "hardware random seed")

enum class gated_class : uint8_t {
#define AFTERBURN_GATED_ENUM(id, name, gate, privileged, what) id,
    AFTERBURN_GATED_CLASSES(AFTERBURN_GATED_ENUM)
#undef AFTERBURN_GATED_ENUM
    count
};

inline constexpr unsigned gated_class_count = static_cast<unsigned>(gated_class::count);

struct gated_class_info {
    const char *name;
    cpuid_gate gate;
    bool privileged;
    const char *what;
};

inline constexpr gated_class_info gated_classes[] = {
#define AFTERBURN_GATED_INFO(id, name, gate, privileged, what) {name, gate, privileged, what},
    AFTERBURN_GATED_CLASSES(AFTERBURN_GATED_INFO)
#undef AFTERBURN_GATED_INFO
};

// nullptr for an out-of-range class.
constexpr const gated_class_info *gated_class_of(gated_class c)
{
    return static_cast<unsigned>(c) < gated_class_count ? &gated_classes[static_cast<unsigned>(c)] : nullptr;
}

constexpr const char *gated_class_name(gated_class c)
{
    const gated_class_info *i = gated_class_of(c);
    return i ? i->name : nullptr;
}

} // namespace afterburn
