#!/usr/bin/env bash
# objdump-census.sh: an independent census of x86 sensitive instructions in an ELF file.
#
# It disassembles every executable section with binutils' `objdump -d` (no LLVM, nothing shared
# with afterburn's own scanner) and counts each instruction class, so the two can be compared
# class by class. Classification works on objdump's AT&T text:
#   - prefixes (lock, rep*, data16, rex.*, segment overrides, notrack, bnd, ...) are skipped;
#   - width suffixes are folded: pushf/pushfw/pushfq -> pushf, iret/iretw/iretq -> iret, etc.;
#   - mov to/from %cr/%db/segment registers is told apart by which operand is the register
#     (a "%fs:" memory override is not a segment-register operand);
#   - in/out count every width and both the imm8 and (%dx) forms; ins/outs likewise, with rep;
#   - int is `int $n` (0xcd, any n, including $0x3); int3 is 0xcc; int1 is 0xf1; a run of two
#     or more consecutive int3 is fill between functions, not code, and is not counted;
#   - lret/ljmp/lcall are the far forms; `(bad)` is ignored;
#   - the CPUID-gated classes (vmcall, vmmcall, vmx, svm, monitorx, ..., rdrand, rdseed; see
#     docs/annotation-format.md) fold every mnemonic of their group, vmgexit counting as vmmcall.
# objdump decodes an ELF64 as 64-bit code throughout, so 16/32-bit code inside it (boot,
# realmode trampolines) is counted as objdump decodes it; into/push %ds etc. then show up
# only in ELF32 files.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: objdump-census.sh [--json] [--by-section] [--sites] IMAGE

Prints one line "CLASS COUNT" per sensitive-instruction class (all classes, fixed order),
then "total N".
  --json        print a JSON object instead: {"image":..., "classes":{...}, "total":N
                [, "sections":{NAME:{"classes":{...},"total":N}}]}
  --by-section  also break the counts down by section (text: "section NAME" blocks listing
                the non-zero classes and the section total)
  --sites       also list every site as "site SECTION ADDRESS CLASS INSTRUCTION" (text only)
  --all-int3    count every int3; by default a run of two or more consecutive int3 is
                0xcc fill between functions, not code, and is left out (reported on stderr)
Environment: OBJDUMP (default objdump).
EOF
}

JSON=0 BY_SECTION=0 SITES=0 ALL_INT3=0 IMAGE=""
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --json) JSON=1 ;;
        --by-section) BY_SECTION=1 ;;
        --sites) SITES=1 ;;
        --all-int3) ALL_INT3=1 ;;
        -*) echo "objdump-census: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) [[ -z $IMAGE ]] || { echo "objdump-census: more than one IMAGE" >&2; exit 2; }; IMAGE=$1 ;;
    esac
    shift
done
[[ -n $IMAGE ]] || { usage >&2; exit 2; }
[[ -f $IMAGE ]] || { echo "objdump-census: '$IMAGE' does not exist" >&2; exit 2; }
[[ $(head -c 4 "$IMAGE" | od -An -c | tr -d ' ') == '177ELF' ]] ||
    { echo "objdump-census: '$IMAGE' is not an ELF file" >&2; exit 2; }
OBJDUMP=${OBJDUMP:-objdump}
command -v "$OBJDUMP" >/dev/null || { echo "objdump-census: $OBJDUMP not found (apt-get install binutils)" >&2; exit 2; }

# The class list, in output order (names match afterburn scan's classes).
CLASSES="cli sti pushf popf mov_to_cr mov_from_cr mov_to_dr mov_from_dr lgdt lidt lldt ltr sgdt
sidt sldt str in out ins outs hlt invlpg invpcid wbinvd rdmsr wrmsr rdtsc rdtscp rdpmc cpuid swapgs
sysret iret xsetbv xgetbv wrpkru rdpkru monitor mwait lar lsl verr verw mov_to_seg mov_from_seg
push_seg pop_seg wrfsbase wrgsbase rdfsbase rdgsbase clac stac smsw lmsw clts invd sysexit
sysenter int int3 int1 into lret ljmp lcall xsaves xrstors rdpid
vmcall vmmcall vmx svm monitorx mwaitx umonitor umwait tpause sgx cet_ss wbnoinvd invlpgb tlbsync
rdpru pconfig ptwrite enqcmd uintr loadiwkey hreset tsxldtrk sev_snp tdx rdrand rdseed"

# pipefail: an objdump failure (e.g. unknown architecture) must fail the census, not count 0.
"$OBJDUMP" -d -w --no-show-raw-insn "$IMAGE" |
awk -v classes="$CLASSES" -v json="$JSON" -v by_section="$BY_SECTION" -v sites="$SITES" -v image="$IMAGE" -v all_int3="$ALL_INT3" '
BEGIN {
    nclass = split(classes, order, /[ \n]+/)
    # Instructions whose class follows from the mnemonic alone (after suffix folding).
    split("cli sti hlt invlpg invpcid wbinvd rdmsr wrmsr rdtsc rdtscp rdpmc cpuid swapgs xsetbv " \
          "xgetbv wrpkru rdpkru monitor mwait lar lsl verr verw wrfsbase wrgsbase rdfsbase " \
          "rdgsbase clac stac smsw lmsw clts invd int int3 int1 into rdpid " \
          "lgdt lidt lldt ltr sgdt sidt sldt str in out", plain, " ")
    # The CPUID-gated classes afterburn never annotates (rewriter/include/afterburn/gated_class.h).
    split("vmcall vmmcall monitorx mwaitx umonitor umwait tpause wbnoinvd invlpgb tlbsync rdpru " \
          "pconfig ptwrite hreset loadiwkey rdrand rdseed", gated, " ")
    for (i in plain) simple[plain[i]] = plain[i]
    for (i in gated) simple[gated[i]] = gated[i]
    alias["vmgexit"] = "vmmcall"   # F3 0F 01 D9 (SEV-ES): vmmcall with a prefix
    alias["ptwritel"] = "ptwrite"; alias["ptwriteq"] = "ptwrite"
    split("vmlaunch vmresume vmxon vmxoff vmptrld vmptrst vmclear vmread vmwrite invept invvpid vmfunc", g, " ")
    for (i in g) alias[g[i]] = "vmx"
    split("vmrun vmload vmsave stgi clgi skinit invlpga", g, " ");                     for (i in g) alias[g[i]] = "svm"
    split("encls enclu enclv", g, " ");                                              for (i in g) alias[g[i]] = "sgx"
    split("incsspd incsspq rdsspd rdsspq saveprevssp rstorssp wrssd wrssq wrussd wrussq setssbsy clrssbsy", g, " ")
    for (i in g) alias[g[i]] = "cet_ss"
    split("enqcmd enqcmds", g, " ");                                                 for (i in g) alias[g[i]] = "enqcmd"
    split("uiret clui stui testui senduipi", g, " ");                                for (i in g) alias[g[i]] = "uintr"
    split("xsusldtrk xresldtrk", g, " ");                                            for (i in g) alias[g[i]] = "tsxldtrk"
    split("pvalidate rmpadjust rmpupdate psmash", g, " ");                           for (i in g) alias[g[i]] = "sev_snp"
    split("tdcall seamcall seamops seamret", g, " ");                                for (i in g) alias[g[i]] = "tdx"
    # Mnemonics with width suffixes or aliases, folded to their class.
    alias["pushf"] = "pushf"; alias["pushfw"] = "pushf"; alias["pushfl"] = "pushf"; alias["pushfq"] = "pushf"
    alias["popf"] = "popf"; alias["popfw"] = "popf"; alias["popfl"] = "popf"; alias["popfq"] = "popf"
    alias["insb"] = "ins"; alias["insw"] = "ins"; alias["insl"] = "ins"; alias["ins"] = "ins"
    alias["outsb"] = "outs"; alias["outsw"] = "outs"; alias["outsl"] = "outs"; alias["outs"] = "outs"
    alias["inb"] = "in"; alias["inw"] = "in"; alias["inl"] = "in"
    alias["outb"] = "out"; alias["outw"] = "out"; alias["outl"] = "out"
    alias["sysret"] = "sysret"; alias["sysretl"] = "sysret"; alias["sysretq"] = "sysret"
    alias["iret"] = "iret"; alias["iretw"] = "iret"; alias["iretl"] = "iret"; alias["iretq"] = "iret"
    alias["sysexit"] = "sysexit"; alias["sysexitl"] = "sysexit"; alias["sysexitq"] = "sysexit"
    alias["sysenter"] = "sysenter"; alias["sysenterl"] = "sysenter"; alias["sysenterq"] = "sysenter"
    alias["lret"] = "lret"; alias["lretw"] = "lret"; alias["lretl"] = "lret"; alias["lretq"] = "lret"
    alias["ljmp"] = "ljmp"; alias["ljmpw"] = "ljmp"; alias["ljmpl"] = "ljmp"; alias["ljmpq"] = "ljmp"
    alias["lcall"] = "lcall"; alias["lcallw"] = "lcall"; alias["lcalll"] = "lcall"; alias["lcallq"] = "lcall"
    alias["xsaves"] = "xsaves"; alias["xsaves64"] = "xsaves"
    alias["xrstors"] = "xrstors"; alias["xrstors64"] = "xrstors"
    alias["icebp"] = "int1"
    split("lgdt lidt sgdt sidt sldt str smsw lldt ltr lmsw", sfx, " ")
    for (i in sfx) { alias[sfx[i] "w"] = sfx[i]; alias[sfx[i] "l"] = sfx[i]; alias[sfx[i] "q"] = sfx[i] }
    # Prefix tokens objdump prints before the mnemonic.
    split("lock rep repz repnz repe repne data16 data32 addr16 addr32 addr64 cs ds es fs gs ss " \
          "notrack bnd xacquire xrelease rex rex.w rex.r rex.x rex.b {disp8} {disp32} {vex} {vex3} {evex}", pf, " ")
    for (i in pf) prefix[pf[i]] = 1
    section = ""
}
/^Disassembly of section / {
    flush_int3()
    section = $4; sub(/:$/, "", section)
    next
}
# Instruction lines: "  address:<TAB>mnemonic operands"
/^ *[0-9a-f]+:\t/ {
    line = $0
    addr = line; sub(/:.*/, "", addr); gsub(/ /, "", addr)
    text = line; sub(/^ *[0-9a-f]+:\t/, "", text)
    sub(/[ \t]*#.*$/, "", text)            # objdump comments (# 0x... <sym>)
    sub(/[ \t]*<[^>]*>[ \t]*$/, "", text)   # symbolic branch targets
    n = split(text, tok, /[ \t]+/)
    k = 1
    while (k <= n && ((tolower(tok[k]) in prefix) || tolower(tok[k]) ~ /^rex\.w?r?x?b?$/)) k++
    if (k > n) next
    mn = tok[k]
    ops = ""
    for (j = k + 1; j <= n; j++) ops = ops (ops == "" ? "" : " ") tok[j]
    cls = classify(mn, ops)
    if (cls == "int3" && !all_int3) {
        # Hold int3 back until we know whether it is alone or part of a fill run.
        run_len++
        if (run_len == 1) { run_addr = addr; run_text = text }
        next
    }
    flush_int3()
    if (cls == "") next
    record(cls, addr, text)
}
function record(cls, addr, text) {
    count[cls]++; total++
    if (section != "") { seccount[section, cls]++; sectotal[section]++; if (!(section in seen)) { seen[section] = 1; secorder[++nsec] = section } }
    if (sites) site[++nsite] = "site " section " " addr " " cls " " text
}
# A lone int3 is an instruction; a run of two or more is the 0xcc fill the linker and
# assembler put between functions and sections (millions of bytes in a vmlinux).
function flush_int3() {
    if (run_len == 1) record("int3", run_addr, run_text)
    else if (run_len > 1) { padding += run_len; padruns++ }
    run_len = 0
}
# Splits AT&T operands at top-level commas (memory operands contain commas inside parentheses).
function split_ops(s, out,    depth, i, c, cur, m) {
    depth = 0; cur = ""; m = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "(") depth++
        else if (c == ")") depth--
        if (c == "," && depth == 0) { out[++m] = cur; cur = "" } else cur = cur c
    }
    if (cur != "") out[++m] = cur
    return m
}
function is_seg(op) { return op ~ /^%(cs|ds|es|fs|gs|ss)$/ }
function classify(mn, ops,    o, m, src, dst) {
    if (mn in alias) return alias[mn]
    if (mn in simple) return simple[mn]
    if (mn ~ /^mov[wlq]?$/) {
        m = split_ops(ops, o)
        if (m != 2) return ""
        src = o[1]; dst = o[2]
        if (dst ~ /^%cr[0-9]+$/) return "mov_to_cr"
        if (src ~ /^%cr[0-9]+$/) return "mov_from_cr"
        if (dst ~ /^%d[br][0-9]+$/) return "mov_to_dr"
        if (src ~ /^%d[br][0-9]+$/) return "mov_from_dr"
        if (is_seg(dst)) return "mov_to_seg"
        if (is_seg(src)) return "mov_from_seg"
        return ""
    }
    if (mn ~ /^push[wlq]?$/ && is_seg(ops)) return "push_seg"
    if (mn ~ /^pop[wlq]?$/ && is_seg(ops)) return "pop_seg"
    return ""
}
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
END {
    flush_int3()
    if (padding && !json) printf "objdump-census: skipped %d int3 in %d fill runs (--all-int3 counts them)\n", padding, padruns > "/dev/stderr"
    if (json) {
        printf "{\"image\": %s, \"tool\": \"objdump\", \"int3_fill_skipped\": %d, \"classes\": {", jstr(image), padding
        for (i = 1; i <= nclass; i++) printf "%s%s: %d", (i > 1 ? ", " : ""), jstr(order[i]), count[order[i]]
        printf "}, \"total\": %d", total
        if (by_section) {
            printf ", \"sections\": {"
            for (s = 1; s <= nsec; s++) {
                printf "%s%s: {\"classes\": {", (s > 1 ? ", " : ""), jstr(secorder[s])
                first = 1
                for (i = 1; i <= nclass; i++) if ((secorder[s], order[i]) in seccount) {
                    printf "%s%s: %d", (first ? "" : ", "), jstr(order[i]), seccount[secorder[s], order[i]]; first = 0
                }
                printf "}, \"total\": %d}", sectotal[secorder[s]]
            }
            printf "}"
        }
        printf "}\n"
        exit 0
    }
    for (i = 1; i <= nclass; i++) printf "%s %d\n", order[i], count[order[i]]
    printf "total %d\n", total
    if (by_section) for (s = 1; s <= nsec; s++) {
        printf "section %s\n", secorder[s]
        for (i = 1; i <= nclass; i++) if ((secorder[s], order[i]) in seccount)
            printf "  %s %d\n", order[i], seccount[secorder[s], order[i]]
        printf "  total %d\n", sectotal[secorder[s]]
    }
    for (i = 1; i <= nsite; i++) print site[i]
}'
