#!/usr/bin/env python3
"""Seed corpora for the fuzzers, cut from a real annotated image (the sample guest):
make_seeds.py TARGET IMAGE OUTDIR. Nothing big is committed; this runs at test time."""
import os
import struct
import sys

sys.dont_write_bytecode = True  # the import below must leave no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import corrupt_elf  # noqa: E402  (section and note walking)


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def records(d):
    """(record bytes, site file offset, span bytes) for every instruction record."""
    secs = corrupt_elf.sections(d)
    for _, recs, note in corrupt_elf.tables(d):
        for r in recs:
            rec = d[r:r + 20]
            rel, = struct.unpack_from("<i", rec, 0)
            kind, insn_len, pad_len, flags = rec[4], rec[5], rec[6], rec[7]
            site = note["addr"] + (r - note["off"]) + rel
            start = site - pad_len if flags & 0x40 else site
            sec = next((s for s in secs if s["flags"] & 4 and s["addr"] <= start < s["addr"] + s["size"]), None)
            if sec is None:
                continue
            off = sec["off"] + (start - sec["addr"])
            yield rec, off, site - sec["addr"] + sec["off"], d[off:off + insn_len + pad_len]


def main():
    target, image, outdir = sys.argv[1:4]
    os.makedirs(outdir, exist_ok=True)
    d = open(image, "rb").read()
    n = 0
    if target == "annotation":
        for s in corrupt_elf.sections(d):
            if s["type"] == 7:
                write(outdir, f"notes-{s['name'].strip('.')}", d[s["off"]:s["off"] + s["size"]])
                n += 1
        for i, (desc, recs, note) in enumerate(corrupt_elf.tables(d)):
            # One note with its first few records, small enough to mutate quickly.
            start = desc - 24
            end = min(desc + 8 + 20 * 4, note["off"] + note["size"])
            blob = bytearray(d[start:end])
            struct.pack_into("<I", blob, 4, len(blob) - 24)  # descsz
            write(outdir, f"note-{i}", bytes(blob))
            n += 1
    elif target == "decoder":
        seen = set()
        for rec, _, insn_off, _ in records(d):
            b = d[insn_off:insn_off + 15]
            if b not in seen:
                seen.add(b)
                write(outdir, f"insn-{len(seen)}", b)
        # The CPUID-gated forms are never annotated, so no record yields them: a few by hand
        # (vmcall, vmxon, rdssp, umwait, hreset, vmgexit, senduipi, wruss).
        for i, b in enumerate([b"\x0f\x01\xc1", b"\xf3\x0f\xc7\x30", b"\xf3\x48\x0f\x1e\xc8",
                               b"\xf2\x0f\xae\xf0", b"\xf3\x0f\x3a\xf0\xc0\x01", b"\xf3\x0f\x01\xd9",
                               b"\xf3\x0f\xc7\xf0", b"\x66\x0f\x38\xf5\x44\x24\x08"]):
            write(outdir, f"gated-{i}", b)
        n = len(seen) + 8
    elif target == "rewriter":
        seen = set()
        for rec, _, _, span in records(d):
            key = (rec[4:], span)
            if key in seen:
                continue
            seen.add(key)
            write(outdir, f"site-{len(seen)}", rec + bytes([len(seen) & 0xff]) + span)
        n = len(seen)
    elif target == "page_table":
        # The sample guest has no page-table sites: one seed per access form, by hand (record,
        # 15 instruction bytes, rdi and rsi in the fuzzer's memory window, rcx a small count).
        def rec(kind, flags, reg, special, base, insn_len, disp_off=0xff, disp_size=0, imm=0):
            mem = flags & 0x10
            return struct.pack("<iBBBBBBBBBBBBi", 0, kind, insn_len, 8 - insn_len if insn_len < 8 else 0, flags,
                               reg, special, base if mem else 0xff, 0xff, 1 if mem else 0, 0xff, disp_off,
                               disp_size, imm)
        regs = [0] * 16
        regs[1], regs[6], regs[7] = 3, 0xffff888000005040, 0xffff888000005080
        tail = b"".join(struct.pack("<Q", v) for v in regs) + struct.pack("<Q", 0x202)
        seeds = [
            rec(69, 0x33, 0, 0, 7, 8) + b"\x2e" * 5 + b"\x48\x89\x07",            # mov %rax,(%rdi)
            rec(70, 0x33, 0, 0, 7, 8, 7, 1) + b"\x2e" * 4 + b"\x48\x8b\x47\x10",  # mov 0x10(%rdi),%rax
            rec(69, 0x10, 0xff, 0, 7, 8, imm=-33) + b"\x2e" * 5 + b"\x80\x27\xdf",  # andb $0xdf,(%rdi)
            rec(69, 0x33, 2, 0, 7, 8) + b"\x2e" * 3 + b"\xf0\x48\x0f\xb1\x17",   # lock cmpxchg %rdx,(%rdi)
            rec(69, 0x13, 0xff, 0, 7, 8, imm=5) + b"\x2e" * 3 + b"\x48\x0f\xba\x37\x05",  # btrq $5,(%rdi)
            rec(69, 0x07, 0xff, 1, 0, 3) + b"\xf3\x48\xab",                       # rep stosq
            rec(69, 0x06, 0xff, 1, 0, 2) + b"\xf3\xa5",                            # rep movsl
            rec(69, 0x03, 0xff, 2, 0, 5) + b"\xe8\xfb\x00\x00\x00",              # call memcpy
        ]
        for i, s in enumerate(seeds):
            write(outdir, f"pt-{i}", s + b"\x90" * (35 - len(s)) + tail)
        n = len(seeds)
    elif target == "elf":
        write(outdir, "guest.elf", d)
        n = 1
    else:
        sys.exit(f"unknown target {target}")
    print(f"{target}: {n} seeds from {image}")


if __name__ == "__main__":
    main()
