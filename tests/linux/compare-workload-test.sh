#!/usr/bin/env bash
# linux.compare_workload: compare-workload.sh on made-up console logs (no kernel needed):
# equal transcripts pass whatever the timing lines, console noise and line ends; a changed
# fact, a missing end or no transcript at all fail, each with its own status.
set -u
CMP=$(cd "$(dirname "$0")" && pwd)/compare-workload.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../lib/expect.sh"
cat >"$TMP/native.log" <<'L'
[    0.5] Run /init as init process
AFTERBURN-WL: begin (workload v1)
AFTERBURN-WL: loop: sum 41791750: ok
AFTERBURN-WL-TIME: sleep 1 took 101/100 s
AFTERBURN-WL: end: 1 of 1 steps passed
AFTERBURN-SUCCESS
L
# Xen-style: CRLF, timestamps, other timings, extra console lines.
printf '(XEN) Xen version 4.17\r\n[ 1.234] AFTERBURN-WL: begin (workload v1)\r\nAFTERBURN-WL: loop: sum 41791750: ok\r\nAFTERBURN-WL-TIME: sleep 1 took 250/100 s\r\nsome kernel line\r\nAFTERBURN-WL: end: 1 of 1 steps passed\r\n' >"$TMP/xen.log"
sed 's/41791750/41791751/' "$TMP/native.log" >"$TMP/wrong.log"
head -n 3 "$TMP/native.log" >"$TMP/cut.log"
echo "no transcript here" >"$TMP/none.log"

expect "equal despite timing, CRLF, noise" 0 "transcripts equal \(3 lines\)" -- "$CMP" "$TMP/native.log" "$TMP/xen.log"
expect "a changed fact"       1 "^\+AFTERBURN-WL: loop: sum 41791751" -- "$CMP" "$TMP/native.log" "$TMP/wrong.log"
expect "incomplete transcript" 2 "incomplete \(no 'end' line"          -- "$CMP" "$TMP/native.log" "$TMP/cut.log"
expect "no transcript"        2 "holds no workload transcript"        -- "$CMP" "$TMP/none.log" "$TMP/native.log"
expect "missing file"         2 "cannot read '$TMP/absent.log'"       -- "$CMP" "$TMP/native.log" "$TMP/absent.log"
expect "one argument"         2 "Usage|compare-workload.sh LOG_A LOG_B" -- "$CMP" "$TMP/native.log"
expect "--extract"            0 "^AFTERBURN-WL: end: 1 of 1"          -- "$CMP" --extract "$TMP/xen.log"
if "$CMP" --extract "$TMP/xen.log" | grep -q $'\r\|TIME'; then
    echo "FAIL: --extract kept a CR or a timing line"; failures=$((failures + 1))
fi
[[ $failures -eq 0 ]] && echo "all cases behave" || { echo "$failures failure(s)"; exit 1; }
