#!/usr/bin/env bash
# Compare the workload transcripts of two boots of the sample Linux guest (any platforms).
#
#   compare-workload.sh LOG_A LOG_B     diff the transcripts; exit 0 when equal, 1 when not
#   compare-workload.sh --extract LOG   print LOG's transcript (what the diff compares)
#
# A LOG is a raw console log (afterburn boot --log, QEMU/Xen output, CRLF or not, with or
# without timestamps) or an already extracted transcript. The transcript is every line that
# holds "AFTERBURN-WL: " (samples/linux/initramfs/workload), from that marker on; timing lines
# ("AFTERBURN-WL-TIME: ") and notes ("AFTERBURN-WL-INFO: ") are not part of it. A log without a
# complete transcript (its "begin" and "end" lines) is an error: exit 2, as for bad usage.
set -euo pipefail
readonly PROG=compare-workload.sh

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "$PROG: error: $*" >&2; exit 2; }

# extract LOG: the transcript on stdout; fails (exit 2) when LOG has none or an incomplete one.
extract() {
    local log=$1 text
    [[ -f $log && -r $log ]] || die "cannot read '$log'"
    text=$(tr -d '\r' <"$log" | sed -n 's/^.*\(AFTERBURN-WL: \)/\1/p') ||
        die "cannot read '$log'"
    [[ -n $text ]] || die "'$log' holds no workload transcript (no 'AFTERBURN-WL: ' line)"
    [[ $(head -n 1 <<<"$text") == "AFTERBURN-WL: begin "* ]] ||
        die "'$log': the transcript does not start with its 'begin' line"
    [[ $(tail -n 1 <<<"$text") == "AFTERBURN-WL: end: "* ]] ||
        die "'$log': the transcript is incomplete (no 'end' line; the guest stopped at: $(tail -n 1 <<<"$text"))"
    printf '%s\n' "$text"
}

case ${1:-} in
    -h|--help|"") usage ;;
    --extract) [[ $# -eq 2 ]] || usage; extract "$2"; exit 0 ;;
esac
[[ $# -eq 2 ]] || usage
a=$(extract "$1") || exit 2
b=$(extract "$2") || exit 2
if diff_text=$(diff -u --label "$1" --label "$2" <(printf '%s\n' "$a") <(printf '%s\n' "$b")); then
    echo "$PROG: transcripts equal ($(wc -l <<<"$a") lines): $1 = $2"
    exit 0
fi
echo "$PROG: transcripts DIFFER: $1 vs $2" >&2
printf '%s\n' "$diff_text" >&2
exit 1
