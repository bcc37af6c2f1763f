# Shared by the bad-input tests of Linux on each backend (sourced, not run):
#   expect STATUS 'regex' BOUND CMD...  CMD must exit STATUS within BOUND seconds, printing
#                                       regex; a miss is printed and counted in $failures.
#   make_unannotated VMLINUX OUT        a copy of VMLINUX whose Afterburn notes' owner is
#                                       renamed in place (they share .notes with the PVH entry
#                                       note, which must stay for the image to be bootable).
failures=0
expect() {
    local want=$1 pattern=$2 bound=$3; shift 3
    local o rc
    o=$(timeout "$bound" "$@" 2>&1 </dev/null); rc=$?
    if [ $rc -ne "$want" ]; then
        echo "FAIL [$*]: status $rc, want $want"; printf '%s\n' "$o" | tail -n 8; failures=$((failures + 1))
    elif ! printf '%s\n' "$o" | grep -qE -- "$pattern"; then
        echo "FAIL [$*]: no /$pattern/ in:"; printf '%s\n' "$o" | tail -n 8; failures=$((failures + 1))
    else
        echo "ok   [${*:4:4}...] -> $rc: $(printf '%s\n' "$o" | grep -E -- "$pattern" | head -n1 | cut -c1-220)"
    fi
}
make_unannotated() {
    python3 - "$1" "$2" <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read()
# {namesz=10, descsz, type=0x41420001, "Afterburn\0"}: docs/annotation-format.md
pat = re.compile(rb'\x0a\x00\x00\x00(....)\x01\x00\x42\x41Afterburn\x00', re.S)
new, n = pat.subn(lambda m: b'\x0a\x00\x00\x00' + m.group(1) + b'\x01\x00\x42\x41Afterbxrn\x00', data)
if n == 0:
    sys.exit("no Afterburn notes found")
open(sys.argv[2], 'wb').write(new)
print(f"renamed {n} Afterburn notes")
PY
}
