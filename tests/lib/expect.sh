# Sourced by the command-line tests. expect DESCRIPTION WANT_STATUS REGEX -- COMMAND [ARGS...]
# runs COMMAND and prints "ok: DESCRIPTION" when it exits WANT_STATUS and a line of its output
# (stdout and stderr) matches the extended REGEX; otherwise "FAIL: ..." with the output, and
# $failures counts it (the caller exits non-zero unless it is 0).
failures=0
expect() {
    local what=$1 want=$2 regex=$3
    if [[ $# -lt 5 || $4 != -- ]]; then
        echo "expect: usage: expect DESCRIPTION WANT_STATUS REGEX -- COMMAND [ARGS...]" >&2
        exit 2
    fi
    shift 4
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [[ $rc -ne $want ]]; then echo "FAIL: $what: exit $rc, want $want: $out"; failures=$((failures + 1))
    elif ! grep -qE -- "$regex" <<<"$out"; then echo "FAIL: $what: output lacks /$regex/: $out"; failures=$((failures + 1))
    else echo "ok: $what"; fi
}
