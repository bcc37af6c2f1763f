#!/usr/bin/env python3
"""Compares `afterburn scan --json` with the independent objdump census, class by class.

usage: compare.py IMAGE SCAN_JSON

For every site class the scanner knows, the census count (objdump's view of the image) must
equal the scanner's total, and every one of those must be annotated or explained (16/32-bit
code). Classes the census counts but afterburn does not treat as sites (int3, int1, into) are
listed for information. The page-table classes (page_table_store, page_table_load) are memory
accesses found by C type, invisible to an opcode census: they are listed for information, and
cross-checked by tests/page_table instead. Exit 1 on any mismatch.
"""
import json
import os
import subprocess
import sys

# Site classes found by the compiler pass from C types, not by opcode.
BY_TYPE = {"page_table_store", "page_table_load"}


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    image, scan_path = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    census = json.loads(subprocess.run([os.path.join(here, "objdump-census.sh"), "--json", image],
                                       check=True, capture_output=True, text=True).stdout)["classes"]
    scan = json.load(open(scan_path))["classes"]
    bad = 0
    print(f"  {'class':<14} {'objdump':>8} {'scan':>8} {'annotated':>10} {'explained':>10}")
    for name, c in scan.items():
        if name in BY_TYPE:
            if c["total"]:
                print(f"  {name:<14} {'-':>8} {c['total']:>8} {c['annotated']:>10} {c['explained']:>10}"
                      "   by C type (tests/page_table cross-checks it)")
            continue
        n = census.get(name)
        if n is None:
            print(f"  {name:<14} {'-':>8} {c['total']:>8}   class unknown to the census")
            bad += 1
            continue
        if n == 0 and c["total"] == 0:
            continue
        ok = n == c["total"] and c["annotated"] + c["explained"] == c["total"]
        bad += not ok
        print(f"  {name:<14} {n:>8} {c['total']:>8} {c['annotated']:>10} {c['explained']:>10}"
              f"{'' if ok else '   MISMATCH'}")
    for name, n in census.items():
        if name not in scan and n:
            print(f"  {name:<14} {n:>8}        -   not an afterburn site class (delivered via the IDT)")
    print(f"  {'classes differing':<14}: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
