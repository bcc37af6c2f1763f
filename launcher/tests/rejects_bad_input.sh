#!/usr/bin/env bash
# launcher.rejects_bad_input: `boot` must refuse bad input before starting anything, with
# exit status 2 and a message naming the problem.
set -u
BOOT=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# A QEMU that records being run: none of these cases may get that far.
cat >"$TMP/qemu" <<'Q'
#!/bin/sh
touch "$(dirname "$0")/qemu-was-run"
Q
chmod +x "$TMP/qemu"
export AFTERBURN_QEMU=$TMP/qemu

failures=0
expect() { # expect DESCRIPTION REGEX -- ARGS...
    local what=$1 regex=$2; shift 3
    local out rc
    out=$("$BOOT" "$@" 2>&1); rc=$?
    if [[ $rc -ne 2 ]]; then
        echo "FAIL: $what: exit $rc, want 2; output: $out"; failures=$((failures + 1))
    elif ! grep -qE -- "$regex" <<<"$out"; then
        echo "FAIL: $what: message does not match /$regex/: $out"; failures=$((failures + 1))
    elif [[ -e $TMP/qemu-was-run ]]; then
        echo "FAIL: $what: QEMU was started"; failures=$((failures + 1))
    else
        echo "ok: $what: $(head -n 1 <<<"$out")"
    fi
}

printf 'just some text, long enough to not be anything else at all......\n' >"$TMP/notes.txt"
printf '\177ELF\002\001\001' >"$TMP/truncated.elf"
# A linked x86-64 ELF without a PVH note or multiboot header.
printf '.text\n.globl _start\n_start: hlt\n' >"$TMP/plain.s"
ELF_NO_PVH=$TMP/plain.elf
as -o "$TMP/plain.o" "$TMP/plain.s" && ld -o "$ELF_NO_PVH" "$TMP/plain.o" || exit 1
touch "$TMP/initrd"

expect "missing image file"   "image '.*/nope.elf' does not exist" -- --on native "$TMP/nope.elf"
expect "directory as image"   "is not a regular file"               -- --on native "$TMP"
expect "not an ELF/bzImage"   "neither an ELF nor a Linux bzImage"  -- --on native "$TMP/notes.txt"
expect "truncated ELF"        "truncated ELF header"                -- --on native "$TMP/truncated.elf"
expect "ELF without PVH note" "without a PVH entry note"            -- --on native "$ELF_NO_PVH"
expect "shared object"        "ELF is not an executable"            -- --on native "$(command -v bash)"
expect "unknown backend"      "backend hyperv not available yet"    -- --on hyperv "$TMP/notes.txt"
expect "missing --on"         "missing --on BACKEND"                -- "$TMP/notes.txt"
expect "missing image arg"    "missing IMAGE"                       -- --on native
expect "unknown option"       "unknown option '--frobnicate'"       -- --on native --frobnicate x
expect "bad timeout"          "--timeout wants a positive number"   -- --on native --timeout soon x
expect "bad memory"           "--memory wants a size"               -- --on native --memory -5 x
expect "option without value" "option --initrd needs a value"       -- --on native x --initrd

# A valid image with a missing initrd: build a minimal PVH ELF with the assembler.
if command -v as >/dev/null && command -v ld >/dev/null; then
    cat >"$TMP/pvh.s" <<'S'
    .section .note.Xen, "a", @note
    .long 4, 4, 18
    .asciz "Xen"
    .long _start
    .text
    .globl _start
_start: hlt
S
    as --32 -o "$TMP/pvh.o" "$TMP/pvh.s" && ld -m elf_i386 -Ttext=0x100000 -o "$TMP/pvh.elf" "$TMP/pvh.o"
    expect "missing initrd" "initrd '.*/absent.img' does not exist" -- --on native "$TMP/pvh.elf" --initrd "$TMP/absent.img"
    # xenolinux wants a Xen PV kernel (XEN_ELFNOTE_ENTRY), and paths QEMU's module list can carry.
    expect "xenolinux: not a PV kernel" "not a Xen PV kernel" -- --on xenolinux "$TMP/pvh.elf"
    cat >"$TMP/pv.s" <<'S'
    .section .note.Xen, "a", @note
    .long 4, 4, 18
    .asciz "Xen"
    .long _start
    .long 4, 8, 1
    .asciz "Xen"
    .quad _start
    .text
    .globl _start
_start: hlt
S
    as --64 -o "$TMP/pv.o" "$TMP/pv.s" && ld -Ttext=0x100000 -o "$TMP/pv.elf" "$TMP/pv.o"
    cp "$TMP/initrd" "$TMP/in,rd"
    expect "xenolinux: ',' in a path" "holds a ',' or ' '" -- --on xenolinux "$TMP/pv.elf" --initrd "$TMP/in,rd"
else
    echo "FAIL: as/ld not available to build the PVH test image"; failures=$((failures + 1))
fi

out=$("$BOOT" --help); rc=$?
if [[ $rc -ne 0 ]] || ! grep -q 'Usage: afterburn boot' <<<"$out"; then
    echo "FAIL: --help: exit $rc"; failures=$((failures + 1))
fi

[[ $failures -eq 0 ]] && echo "all bad-input cases rejected" || { echo "$failures failure(s)"; exit 1; }
