#!/usr/bin/env bash
# cost.measure: `afterburn cost --json` on the real tree and tarball: the guest source is
# unchanged (0 lines), every component and group was counted, the totals and ratios follow
# from the numbers. Then the compare must see a change: a copy of one subtree with one line
# edited shows exactly that line.
set -euo pipefail
AFTERBURN=$1 BUILD_LINUX=$2
SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. The real measurement, through the front door.
start=$(date +%s)
rc=0; "$AFTERBURN" cost --json >"$TMP/cost.json" 2>"$TMP/cost.err" || rc=$?
[[ $rc -eq 0 ]] || { cat "$TMP/cost.err"; fail "afterburn cost --json: exit $rc"; }
echo "afterburn cost --json: $(( $(date +%s) - start )) s"
python3 - "$TMP/cost.json" "$SOURCE_DIR" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
src = sys.argv[2]
bad = []
def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond: bad.append(what)
d = r["guest_diff"]
check(r["guest_lines_changed"] == 0, "guest_lines_changed == 0 (got %r)" % r["guest_lines_changed"])
check(d["files_changed"] == d["files_missing"] == d["files_added"] == 0 and d["differences"] == [],
      "no file changed, missing or added: %r" % d["differences"])
check(d["entries"] > 80000 and d["compared"] == ["."], "the whole tree compared (%d entries)" % d["entries"])
ab = r["afterburn"]
cost = [k for k in ab if k != "cost"]
for k in cost:
    path = r["details"]["ab:" + k]["paths"][0]
    if os.path.exists(os.path.join(src, path)):
        check(isinstance(ab[k], int) and ab[k] > 0, "afterburn %s > 0 (%r)" % (k, ab[k]))
    else:
        check(ab[k] is None, "afterburn %s absent (no %s): %r" % (k, path, ab[k]))
check(ab["cost"] == sum(v for k, v in ab.items() if k != "cost" and v is not None),
      "afterburn cost %d is the sum of its components" % ab["cost"])
for k, v in r["afterburn_not_counted"].items():
    check(v > 0, "not counted: %s > 0 (%d)" % (k, v))
lx = r["linux_xen_pv"]
groups = [k for k in lx if k not in ("core", "all")]
for g in groups:
    check(lx[g] > 0, "Linux %s > 0 (%d)" % (g, lx[g]))
core = ["arch_pv", "asm_xen", "include_xen", "drivers_core", "console", "pv_ops", "hooks_pv"]
check(lx["core"] == sum(lx[g] for g in core), "Linux core %d is the sum of the core groups" % lx["core"])
check(lx["all"] == sum(lx[g] for g in groups), "Linux all %d is the sum of every group" % lx["all"])
check(lx["core"] > 10000 and lx["all"] > lx["core"], "Linux core %d > 10000 and < all %d" % (lx["core"], lx["all"]))
for k, v in r["details"].items():
    if v["code"] is not None:
        check(v["code"] == sum(v["languages"].values()), "%s: languages add up to %d" % (k, v["code"]))
ra = r["ratios"]
def close(name, a, b):
    want = None if a is None else a / b
    got = ra[name]
    check((want is None and got is None) or (got is not None and abs(got - want) < 1e-4),
          "ratio %s = %r (numbers give %r)" % (name, got, want))
close("afterburn_cost/linux_core", ab["cost"], lx["core"])
close("afterburn_cost/linux_all", ab["cost"], lx["all"])
for b in ("xen", "linux", "l4"):
    close("backend_%s/linux_core" % b, ab["backend_" + b], lx["core"])
sys.exit(1 if bad else 0)
PY

# 2. The compare can fail: a copy of arch/x86/xen (mtimes and modes kept) with one line
# edited is one changed line, named; its 37 other entries compare equal.
tree=$("$BUILD_LINUX" --unpack-only | tail -n 1)
[[ -f $tree/arch/x86/xen/mmu_pv.c ]] || fail "build-linux --unpack-only gave no tree: $tree"
copy=$TMP/copy/linux-source-6.1
mkdir -p "$copy/arch/x86"
cp -a "$tree/arch/x86/xen" "$copy/arch/x86/"
sed -i '100s/$/ /' "$copy/arch/x86/xen/mmu_pv.c"
rc=0; "$AFTERBURN" cost --tree "$copy" --compare arch/x86/xen --diff-only --json >"$TMP/one.json" 2>"$TMP/one.err" || rc=$?
[[ $rc -eq 1 ]] || { cat "$TMP/one.err" "$TMP/one.json"; fail "one line changed: exit $rc, want 1"; }
python3 - "$TMP/one.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = r["guest_diff"]
ok = (r["guest_lines_changed"] == 1 and d["files_changed"] == 1 and d["lines_added"] == 1 and d["lines_removed"] == 1
      and d["differences"] == ["changed arch/x86/xen/mmu_pv.c: 1 lines changed (+1 -1)"] and d["compared"] == ["arch/x86/xen"])
print(("ok: " if ok else "FAIL: ") + "one edited line is 1 changed line: %r" % d)
sys.exit(0 if ok else 1)
PY

# 3. A --compare path the tarball does not have is an error, not an empty compare.
rc=0; out=$("$AFTERBURN" cost --tree "$copy" --compare arch/x86/nonesuch --diff-only 2>&1) || rc=$?
[[ $rc -eq 2 && $out == *"not in /usr/src/linux-source-6.1.tar.xz"*"arch/x86/nonesuch"* ]] ||
    fail "--compare of a path not in the tarball: exit $rc: $out"
echo "ok: a --compare path not in the tarball is an error"
