#!/usr/bin/env python3
"""Makes one corrupted copy of an annotated x86-64 ELF image: corrupt_elf.py IN OUT CASE.

Cases: the bad inputs of issue 9 (and the fuzzers' findings), each a single change to a
real image, so a reader that accepts it is wrong for exactly that reason. Prints what it
changed."""
import struct
import sys

REC = 20
KIND = {"cli": 1, "sti": 2, "out": 18, "outs": 20, "int": 60, "code16_region": 67, "page_table_store": 69}


def sections(d):
    shoff, = struct.unpack_from("<Q", d, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", d, 0x3A)
    out = []
    for i in range(shnum):
        o = shoff + i * shentsize
        name, typ, flags, addr, off, size = struct.unpack_from("<IIQQQQ", d, o)
        out.append(dict(i=i, hdr=o, name_off=name, type=typ, flags=flags, addr=addr, off=off, size=size))
    strtab = out[shstrndx]
    for s in out:
        raw = d[strtab["off"] + s["name_off"]:]
        s["name"] = raw[:raw.index(b"\0")].decode()
    return out


def tables(d):
    """(file offset of the table header, [file offsets of its records]) for each Afterburn note."""
    found = []
    for s in sections(d):
        if s["type"] != 7:
            continue
        p, end = s["off"], s["off"] + s["size"]
        while p + 12 <= end:
            namesz, descsz, typ = struct.unpack_from("<III", d, p)
            name = d[p + 12:p + 12 + namesz]
            desc = p + 12 + ((namesz + 3) & ~3)
            if name == b"Afterburn\0" and typ == 0x41420001:
                n = (descsz - 8) // REC
                found.append((desc, [desc + 8 + i * REC for i in range(n)], s))
            p = desc + ((descsz + 3) & ~3)
    return found


def record_in(d, kinds, section_name=None):
    """File offset of the first record with a kind in kinds (and its site in section_name)."""
    secs = sections(d)
    for _, recs, note in tables(d):
        for r in recs:
            if d[r + 4] not in kinds:
                continue
            rel, = struct.unpack_from("<i", d, r)
            site = note["addr"] + (r - note["off"]) + rel
            sec = next((s for s in secs if s["flags"] & 2 and s["addr"] <= site < s["addr"] + s["size"]), None)
            if section_name is None or (sec and sec["name"] == section_name):
                return r
    sys.exit(f"no record of kind {kinds} in {section_name}")


def main():
    src, dst, case = sys.argv[1:4]
    d = bytearray(open(src, "rb").read())
    if case == "exec-section-wraps":
        s = next(s for s in sections(d) if s["flags"] & 4 and s["size"] > 0)
        struct.pack_into("<Q", d, s["hdr"] + 16, (1 << 64) - 0x10)  # sh_addr: end wraps past 2^64
        what = f"{s['name']}.sh_addr = 2^64 - 0x10"
    elif case == "replacement-flag-on-text":
        r = record_in(d, {KIND["cli"]}, ".text")
        d[r + 7] |= 0x80
        what = f"record at file offset {r:#x}: flags |= replacement"
    elif case == "pad-len-zero":
        # A site padded with NOPs (cli has none: its padding prefixes are part of the instruction).
        r = record_in(d, {KIND["outs"], KIND["int"]})
        d[r + 6] = 0
        what = f"record at file offset {r:#x}: pad_len = 0"
    elif case == "reserved-header":
        h = tables(d)[0][0]
        struct.pack_into("<I", d, h + 4, 1)
        what = f"table header at {h:#x}: reserved = 1"
    elif case == "out-as-code16-region":
        r = record_in(d, {KIND["out"]})
        d[r + 4] = KIND["code16_region"]
        what = f"out record at {r:#x}: kind = code16_region"
    elif case == "out-as-page-table-store":
        # A port I/O record relabelled as a page-table store: its `special` (0xff) is no access form.
        r = record_in(d, {KIND["out"]})
        d[r + 4] = KIND["page_table_store"]
        what = f"out record at {r:#x}: kind = page_table_store"
    elif case.startswith("unknown-kind-"):
        k = int(case.rsplit("-", 1)[1])
        r = record_in(d, {KIND["cli"]})
        d[r + 4] = k
        what = f"record at {r:#x}: kind = {k}"
    elif case == "load-memsz-zero":
        phoff, = struct.unpack_from("<Q", d, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", d, 0x36)
        for i in range(phnum):
            o = phoff + i * phentsize
            typ, = struct.unpack_from("<I", d, o)
            filesz, = struct.unpack_from("<Q", d, o + 32)
            if typ == 1 and filesz:
                struct.pack_into("<Q", d, o + 40, 0)  # p_memsz
                what = f"PT_LOAD {i}: p_memsz = 0 (p_filesz {filesz:#x})"
                break
    else:
        sys.exit(f"unknown case {case}")
    open(dst, "wb").write(d)
    print(what)


if __name__ == "__main__":
    main()
