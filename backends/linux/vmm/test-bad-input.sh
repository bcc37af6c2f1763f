#!/bin/bash
# kvm.vmm.bad_input: afterburn-kvm must reject bad input with a clear message and
# the documented non-zero status, before touching KVM, and never hang. Then --probe
# reports whether this host's /dev/kvm can run an ordinary guest (it may not: e.g. a
# PVM /dev/kvm); either answer is fine, but it must be clear.
#   test-bad-input.sh AFTERBURN_KVM GUEST_ELF [KVM_WEDGE_ELF]
set -u
kvm=$1 guest=$2 wedge=${3:-}
[ -x "$kvm" ] || { echo "no launcher at $kvm"; exit 1; }
[ -f "$guest" ] || { echo "no guest image at $guest (cmake --build build --target sample-guest)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect STATUS 'message regex' ARGS...: runs the launcher (bounded by timeout(1)).
expect() {
    local want=$1 pattern=$2; shift 2
    local out rc
    out=$(timeout 20 "$kvm" "$@" 2>&1 </dev/null)
    rc=$?
    local first=$(printf '%s\n' "$out" | head -n1 | cut -c1-200)
    local args="$*"; args=${args:0:100}
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL [$args]: status $rc, want $want: $first"; failures=$((failures + 1))
    elif ! printf '%s\n' "$out" | grep -qE -- "$pattern"; then
        echo "FAIL [$args]: message does not match /$pattern/: $first"; failures=$((failures + 1))
    else
        echo "ok   [$args] -> $rc: $first"
    fi
}

# patch FILE OFFSET VALUE BYTES: little-endian write into a copy of the guest.
patch() {
    local f=$1 off=$2 v=$3 n=$4 i bytes=
    for ((i = 0; i < n; i++)); do bytes+=$(printf '\\%03o' $(((v >> (8 * i)) & 255))); done
    printf "$bytes" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
variant() { cp "$guest" "$tmp/$1"; echo "$tmp/$1"; }

# The guest's ELF header: e_entry at 24, e_phoff = 64; PT_LOAD 0 (text) at 64,
# PT_LOAD 1 (data) at 120; p_paddr is at +24 in a program header.
phoff=$(od -An -t u8 -j 32 -N 8 "$guest" | tr -d ' ')
[ "$phoff" = 64 ] || { echo "unexpected e_phoff $phoff in $guest"; exit 1; }
data_paddr=$((phoff + 56 + 24))

expect 2 'no guest image given'
expect 2 'unknown option --bogus' --bogus "$guest"
expect 2 '--memory: not a number' --memory lots "$guest"
expect 2 '--memory: 1 MiB is outside' --memory 1 "$guest"
expect 2 '--timeout: not a non-negative number' --timeout -3 "$guest"
expect 2 'more than one guest image' "$guest" "$guest"
expect 2 'command line is 3000 bytes' --append "$(head -c 3000 /dev/zero | tr '\0' x)" "$guest"
expect 4 'cannot open: No such file' "$tmp/missing.elf"
expect 4 'not a regular file' "$tmp"
printf 'hello\n' >"$tmp/text"; expect 4 'shorter than an ELF header' "$tmp/text"
printf '%064d' 0 >"$tmp/zeros"; expect 4 'bad magic' "$tmp/zeros"
head -c 100 "$guest" >"$tmp/trunc1"; expect 4 'program headers lie beyond the end of the file' "$tmp/trunc1"
head -c 4096 "$guest" >"$tmp/trunc2"; expect 4 'beyond the end of the file .*truncated' "$tmp/trunc2"
f=$(variant class32); patch "$f" 4 1 1; expect 4 'not a 64-bit ELF' "$f"
f=$(variant machine); patch "$f" 18 3 2; expect 4 'not an x86-64 ELF' "$f"
f=$(variant dyn); patch "$f" 16 3 2; expect 4 'not an executable ELF' "$f"
f=$(variant entry); patch "$f" 24 $((0x5000000)) 8; expect 4 'entry point 0x5000000 is not inside' "$f"
f=$(variant filesz); patch "$f" $((phoff + 32)) $((0x7fffffff)) 8; expect 4 'p_filesz > p_memsz|beyond the end' "$f"
expect 4 'needs at least --memory 17' --memory 16 "$guest"
f=$(variant high); patch "$f" $data_paddr $((0x8000000)) 8; expect 4 'needs at least --memory 129' --memory 64 "$f"
f=$(variant hole); patch "$f" $data_paddr $((0xc0100000)) 8; expect 4 'is not in RAM' --memory 3200 "$f"
f=$(variant low); patch "$f" $data_paddr $((0x8000)) 8; expect 4 'overlaps the launcher.s boot data' "$f"
# --wedge: a bad wedge image, or no room for the wedge's 2 MiB below the guest's end.
expect 2 '--probe takes no --wedge' --probe --wedge "$guest"
expect 4 'cannot open: No such file' --wedge "$tmp/missing.elf" "$guest"
expect 4 'entry point 0x[0-9a-f]* is not in the window' --wedge "$guest" "$guest"
if [ -n "$wedge" ]; then
    expect 4 'overlaps the wedge.s 2 MiB at 0x1000000' --memory 18 --wedge "$wedge" "$guest"
fi

# The host's /dev/kvm: it either runs the built-in probe guest (0) or says clearly why
# not (6); it must not hang (status 124 from timeout(1) would be a failure).
out=$(timeout 30 "$kvm" --probe --timeout 10 2>&1); rc=$?
echo "probe of /dev/kvm -> $rc: $out"
case $rc in
0) printf '%s\n' "$out" | grep -q 'runs an ordinary long-mode guest' || { echo "FAIL: probe passed without saying so"; failures=$((failures + 1)); } ;;
6) printf '%s\n' "$out" | grep -qE 'cannot|missing|KVM' || { echo "FAIL: probe failed without a reason"; failures=$((failures + 1)); } ;;
*) echo "FAIL: probe status $rc (want 0 or 6)"; failures=$((failures + 1)) ;;
esac

[ $failures -eq 0 ] && echo "all bad-input cases rejected clearly" || echo "$failures failure(s)"
[ $failures -eq 0 ]
