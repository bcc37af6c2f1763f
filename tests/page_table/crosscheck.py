#!/usr/bin/env python3
"""Cross-checks the compiler pass (afterburn_pt) on one compiled unit by an independent method.

The plugin decides in memory, from GCC's MEM_EXPR trees, which instructions access a page-table
entry, and marks them ("#afterburn_page_table store|load") in the assembly. This script decides
again from what GCC prints, with no help from the plugin:

  - the operand expressions -fverbose-asm writes after each instruction (`# tmp85, *ptep_2(D)`),
  - the declarations of -fdump-tree-optimized (types of every parameter, local and SSA temporary,
    and the block calls (`__builtin_memcpy (dst_5(D), ...)`) left after optimisation),
  - the DWARF types of global variables (readelf on the object compiled with -g),

typing each memory operand's expression with its own small typer. It then compares, instruction
by instruction, with the markers; block calls (memcpy/memset of entries) are compared per
function by count. Any difference is a disagreement and the exit status is 1.

usage: crosscheck.py TYPES.conf UNIT.s UNIT.optimized UNIT.o [PLUGIN_STDERR]
"""
import re
import subprocess
import sys

MARKER = "#afterburn_page_table"
BLOCK_FUNCS = {"memcpy", "memmove", "memset", "__memcpy", "__memmove", "__memset",
               "__builtin_memcpy", "__builtin_memmove", "__builtin_memset"}
# Mnemonics whose memory operand is read even when it is the last operand.
READ_ONLY = re.compile(r"^(cmp|test|bt[lqwb]?$|push|ucomis|comis|prefetch|clflush|nop)")


def fail(msg):
    print(f"crosscheck: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_config(path):
    types, fields = set(), set()
    for line in open(path):
        words = line.split("#", 1)[0].split()
        if words:
            types.add(words[0])
            fields.update(words[1:])
    if not types:
        fail(f"{path} names no type")
    return types, fields


class Type:
    """A C type reduced to what matters here: the named type at the bottom and how it is reached."""

    def __init__(self, name, pointers=0, array=False):
        self.name, self.pointers, self.array = name, pointers, array

    def __repr__(self):
        return f"{self.name}{'[]' if self.array else ''}{'*' * self.pointers}"


def parse_c_type(text):
    """`volatile struct pte_t *`, `pgd_t[512] *`, `long unsigned int` -> Type."""
    t = re.sub(r"\b(const|volatile|restrict|struct|union|enum)\b", " ", text)
    pointers = t.count("*")
    array = "[" in t
    t = re.sub(r"\[[^\]]*\]|\*", " ", t).split()
    return Type(t[-1] if t else "?", pointers, array)


def dwarf_globals(obj):
    """Variable name -> Type from the object's DWARF (DW_TAG_variable, typedef chains)."""
    try:
        out = subprocess.run(["readelf", "--debug-dump=info", "--wide", obj], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"readelf on {obj}: {e}")
    dies, cur, parents = {}, None, []
    for line in out.splitlines():
        m = re.match(r"\s*<(\d+)><([0-9a-f]+)>: Abbrev Number: \d+ \((DW_TAG_\w+)\)", line)
        if m:
            depth, off = int(m.group(1)), int(m.group(2), 16)
            del parents[depth:]
            cur = dies.setdefault(off, {"tag": m.group(3), "parent": parents[-1] if parents else None})
            parents.append(off)
            continue
        m = re.match(r"\s*<[0-9a-f]+>\s+(DW_AT_\w+)\s*:\s*(.*)$", line)
        if m and cur is not None:
            attr, val = m.groups()
            if attr == "DW_AT_name":
                # "(strp) (offset: 0x1f): name", "(indirect string, offset: 0x1f): name", "(string) name"
                while val.startswith("("):
                    val = re.sub(r"^\(.*?\):?\s*", "", val, count=1)
                cur["name"] = val.strip()
            elif attr == "DW_AT_type":
                r = re.search(r"<0x([0-9a-f]+)>", val)
                if r:
                    cur["type"] = int(r.group(1), 16)
    if not dies:
        fail(f"{obj} has no DWARF (compile it with -g)")

    def resolve(off, depth=0):
        pointers, array = 0, False
        while off is not None and depth < 64:
            depth += 1
            d = dies.get(off)
            if d is None:
                break
            tag = d["tag"]
            if tag == "DW_TAG_pointer_type":
                pointers += 1
            elif tag == "DW_TAG_array_type":
                array = True
            elif tag in ("DW_TAG_typedef", "DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_base_type"):
                if "name" in d and (tag != "DW_TAG_typedef" or d["name"] in TYPES or "type" not in d):
                    return Type(d["name"], pointers, array)
            off = d.get("type")
        return Type("?", pointers, array)

    variables = {d["name"]: resolve(d.get("type")) for d in dies.values()
                 if d["tag"] == "DW_TAG_variable" and "name" in d}
    # Struct and union members: (container name, member name) -> Type, members of anonymous
    # inner structs and unions lifted into their container (GCC prints them as `D.1234`).
    children = {}
    for off, d in dies.items():
        if d["tag"] == "DW_TAG_member" and d.get("parent") is not None:
            children.setdefault(d["parent"], []).append(d)

    def strip_to_record(off):
        for _ in range(64):
            d = dies.get(off)
            if d is None:
                return None
            if d["tag"] in ("DW_TAG_structure_type", "DW_TAG_union_type"):
                return off
            if d["tag"] not in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type"):
                return None
            off = d.get("type")
        return None

    def flatten(off, out, depth=0):
        for m in children.get(off, []):
            if "name" in m:
                out.setdefault(m["name"], resolve(m.get("type")))
            elif depth < 8:
                inner = strip_to_record(m.get("type"))
                if inner is not None:
                    flatten(inner, out, depth + 1)
        return out

    records = {}
    for off, d in dies.items():
        if d["tag"] in ("DW_TAG_structure_type", "DW_TAG_union_type") and children.get(off):
            if "name" in d:
                records.setdefault(d["name"], off)
        elif d["tag"] == "DW_TAG_typedef" and "name" in d:
            inner = strip_to_record(d.get("type"))
            if inner is not None and children.get(inner):
                records.setdefault(d["name"], inner)
    members = {}
    for name, off in records.items():
        for field, t in flatten(off, {}).items():
            members[(name, field)] = t
    return variables, members


def parse_dump(path, asm_path):
    """As read_dump; a unit without functions (everything configured out) writes no dump."""
    try:
        return read_dump(path)
    except FileNotFoundError:
        if "@function" in open(asm_path).read():
            fail(f"{path} is missing but {asm_path} has functions")
        return {}


def read_dump(path):
    """Function name -> {"vars": {name: [(Type, automatic)...]}, "params": {name: Type},
    "defs": {ssa: rhs}, "calls": [(dst_expr, src_expr, func)]}."""
    funcs, cur, in_body = {}, None, False
    for line in open(path):
        m = re.match(r";; Function (\S+) \((\S+?)[,)]", line)
        if m:
            cur = funcs.setdefault(m.group(2), {"vars": {}, "params": {}, "defs": {}, "calls": []})
            in_body = False
            continue
        if cur is None:
            continue
        if not in_body:
            m = re.match(r"^[^ ;].*?\b[\w.]+ \((.*)\)$", line.rstrip())
            if m and not line.startswith("{"):
                for p in filter(None, (x.strip() for x in m.group(1).split(","))):
                    pm = re.match(r"(.*?)([\w.$]+)$", p)
                    if pm:
                        cur["params"][pm.group(2)] = parse_c_type(pm.group(1))
                        cur["vars"].setdefault(pm.group(2), []).append((parse_c_type(pm.group(1)), True))
            if line.startswith("{"):
                in_body = True
            continue
        m = re.match(r"^  ((?:static )?)([^=;<(]+?) ([\w.$]+)(\[[^\]]*\])?;$", line.rstrip())
        if m and not line.startswith("  <"):
            t = parse_c_type(m.group(2) + (m.group(4) or ""))
            cur["vars"].setdefault(m.group(3), []).append((t, not m.group(1)))
            continue
        m = re.match(r"^  ([\w.$]*_\d+) = (.*);$", line.rstrip())
        if m:
            cur["defs"][m.group(1)] = m.group(2)
        m = re.match(r"^  # ([\w.$]*_\d+) = PHI <(.*)>$", line.rstrip())
        if m:
            cur["defs"][m.group(1)] = "PHI " + m.group(2)
        m = re.search(r"\b(__builtin_mem\w+|mem\w+|__mem\w+) \((.*)\);", line)
        if m and m.group(1) in BLOCK_FUNCS:
            args = split_top(m.group(2))
            if len(args) >= 2:
                cur["calls"].append((args[0], args[1], m.group(1)))
    return funcs


def split_top(text, sep=","):
    """Splits at `sep` outside (), [] and <>."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == ">" and i and text[i - 1] == "-":
            continue  # `->`, not a bracket
        if c in "([<":
            depth += 1
        elif c in ")]>":
            depth -= 1
        elif c == sep and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


AMBIGUOUS = object()


class Typer:
    """Types the expressions GCC prints, from the dump's declarations and the DWARF."""

    def __init__(self, types, fields, dwarf, fn):
        self.types, self.fields = types, fields
        self.globals, self.members = dwarf
        self.vars, self.params, self.defs = fn["vars"], fn["params"], fn["defs"]
        self.derived_cache = {}

    def var(self, ident):
        """(Type, automatic), (None, False) unknown, or (AMBIGUOUS, False)."""
        if ident.startswith("D.") or re.match(r"^tmp\d+$", ident) or ident == "<retval>":
            return None, True
        m = re.match(r"^(.*?)_(\d+)(\(D\))?$", ident)
        if m and m.group(3) and m.group(1) in self.params:
            return self.params[m.group(1)], True  # a default definition is the parameter
        for name in ([ident] + ([m.group(1) or ident] if m else [])):
            if name in self.vars:
                cands = self.vars[name]
                if len({repr(t) for t, _ in cands}) > 1:
                    return AMBIGUOUS, False
                return cands[0]
            if name in self.globals:
                return self.globals[name], False
        return None, False

    def is_pt(self, t):
        return isinstance(t, Type) and t.pointers == 0 and t.name in self.types

    def points_to_pt(self, t):
        return isinstance(t, Type) and t.pointers == 1 and t.name in self.types

    def entry_pointer(self, e, depth=0):
        """Is `e` (an SSA name or &expr) a pointer to entries, by type or by how it was computed?"""
        e = e.strip()
        if depth > 20:
            return False
        if e.startswith("&"):
            return self.expr(e[1:])
        t, _ = self.type_of(e)
        if self.points_to_pt(t):
            return True
        rhs = self.defs.get(e)
        if rhs is None:
            return AMBIGUOUS if t is AMBIGUOUS else False
        if e in self.derived_cache:
            return self.derived_cache[e]
        self.derived_cache[e] = False
        if rhs.startswith("PHI "):
            args = [re.sub(r"\(\d+\)$", "", a.strip()) for a in split_top(rhs[4:])]
            verdicts = [self.entry_pointer(a, depth + 1) for a in args if not re.match(r"^-?\d", a)]
            r = True if True in verdicts else (AMBIGUOUS if AMBIGUOUS in verdicts else False)
        else:
            rhs = re.sub(r"^\([^()]*\*\) ?", "", rhs.strip())       # (long unsigned int *) x
            rhs = re.sub(r"^(.*?) p?\+ .*$", r"\1", rhs)               # x + 8 (POINTER_PLUS prints as +)
            r = self.entry_pointer(rhs, depth + 1) if re.match(r"^&|^[\w.$]+(\(D\))?$", rhs) else False
            if r is False and t is AMBIGUOUS:
                r = AMBIGUOUS
        self.derived_cache[e] = r
        return r

    def base_is_automatic(self, e):
        """The object an access without `->`, `*` or MEM is in: a local of the function?"""
        while True:
            m = re.match(r"^(.*)\.([\w$]+)$", e) or re.match(r"^(.*)\[[^\[\]]*\]$", e)
            if not m or "->" in e.rsplit(".", 1)[-1]:
                break
            e = m.group(1)
        if "->" in e or e.startswith(("*", "MEM")):
            return False
        if re.match(r"^[\w.$]+(\(D\))?$", e):
            return self.var(e)[1] is True
        return False

    def expr_type(self, e, depth=0):
        """The C type of a printed expression, from declarations and DWARF members, or None."""
        e = e.strip()
        if depth > 30:
            return None
        if re.match(r"^[\w.$]+(\(D\))?$", e):
            t, _ = self.var(e)
            return t if isinstance(t, Type) else None
        if e.startswith("*") and not e.startswith("*&"):
            t = self.expr_type(e[1:], depth + 1)
            return Type(t.name, t.pointers - 1, t.array) if t and t.pointers else None
        m = re.match(r"^MEM(?: <([^>]*)>)? ?\[\((.*?) \*\)(.*?)(?: \+ [^\]]*)?\]$", e)
        if m:
            return parse_c_type(m.group(1) or m.group(2))
        m = re.match(r"^(.*)\[([^\[\]]*)\]$", e)
        if m:
            t = self.expr_type(m.group(1), depth + 1)
            if t and t.array:
                return Type(t.name, t.pointers, False)
            return Type(t.name, t.pointers - 1, False) if t and t.pointers else None
        m = re.match(r"^(.*)(\.|->)([\w$.]+)$", e)
        if m:
            head, op, field = m.groups()
            # `x->D.1234.f`: anonymous members are transparent (their members are lifted).
            parts = [f for f in re.split(r"(?<=\d)\.(?=[A-Za-z_])|\.(?=[A-Za-z_])", field) if f]
            while parts and re.match(r"^D\.\d+$", parts[0]):
                parts.pop(0)
            m2 = re.match(r"^(.*?)(\.|->)(D\.\d+)$", head)
            while m2:
                head, op = m2.group(1), m2.group(2)
                m2 = re.match(r"^(.*?)(\.|->)(D\.\d+)$", head)
            t = self.expr_type(head, depth + 1)
            if t is None:
                return None
            if op == "->":
                if t.pointers != 1:
                    return None
            elif t.pointers != 0:
                return None
            for f in parts:
                t = self.members.get((t.name, f))
                if t is None:
                    return None
            return t
        return None

    def expr(self, e):
        """True, False, or AMBIGUOUS: does the memory expression access an entry?"""
        e = e.strip()
        if self.base_is_automatic(e):
            return False
        if e.startswith("*") and not e.startswith("*&"):
            return self.entry_pointer(e[1:])
        m = re.match(r"^(.*?)(\.|->)([\w$]+)$", e) if not e.endswith("]") else None
        if m:
            head, op, field = re.match(r"^(.*)(\.|->)([\w$]+)$", e).groups()
            if op == "->" and self.entry_pointer(head) is True:
                return True
            if op == "." and self.expr(head) is True:
                return True
            t = self.expr_type(e)
            if t is None:
                return AMBIGUOUS
            return t.pointers == 0 and t.name in self.types
        m = re.match(r"^(.*)\[([^\[\]]*)\]$", e)
        if m and not e.startswith("MEM"):
            head = m.group(1)
            t, _ = self.type_of(head)
            if isinstance(t, Type) and t.array and t.pointers == 0 and t.name in self.types:
                return True
            return self.expr(head)
        m = re.match(r"^MEM(?: <([^>]*)>)? ?\[\((.*?) \*\)(.*?)(?: \+ [^\]]*)?\]$", e)
        if m:
            access, alias, base = m.groups()
            if access and self.is_pt(parse_c_type(access)):
                return True
            if self.is_pt(parse_c_type(alias)):
                return True
            return self.entry_pointer(base)
        t, auto = self.type_of(e)
        if t is AMBIGUOUS:
            return AMBIGUOUS
        return not auto and isinstance(t, Type) and t.pointers == 0 and t.name in self.types

    def type_of(self, e):
        e = e.strip()
        if re.match(r"^[\w.$]+(\(D\))?$", e):
            return self.var(e)
        return None, False


def parse_asm(path):
    """Yields (function, kind_marked, item) for each instruction or asm statement of the .s."""
    func, pending, items = None, None, []
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        m = re.match(r"^([\w.$]+):", line)
        if m and not line.startswith("."):
            if not m.group(1).startswith("."):
                func = m.group(1)
        if s.startswith("#") and re.match(r'^# \d+ ".*" 1$', s):
            # One asm statement (ours or the source's) up to `# 0 "" 2`.
            src_line = int(s.split()[1])
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != '# 0 "" 2':
                body.append(lines[i])
                i += 1
            text = [b for b in body if b.strip()]
            if len(text) == 1 and text[0].strip().startswith(MARKER):
                pending = text[0].strip().split()[1]
            else:
                items.append((func, pending, ("asm", (src_line, text))))
                pending = None
            i += 1
            continue
        if line.startswith("\t") and s and not s.startswith((".", "#")) and not s.endswith(":"):
            items.append((func, pending, ("insn", s)))
            pending = None
        i += 1
    return items


def memory_operands(insn):
    code = insn.split("#", 1)[0].strip()
    parts = code.split(None, 1)
    mnem = parts[0] if parts else ""
    if mnem in ("lock", "rep", "repz", "repnz", "repe", "repne") and len(parts) > 1:
        parts = parts[1].split(None, 1)
        mnem = parts[0]
    ops = split_top(parts[1]) if len(parts) > 1 else []
    if mnem.startswith(("lea", "nop", "j", "call", "prefetch")):
        return mnem, ops, []
    mem = [k for k, o in enumerate(ops) if "(" in o and not o.startswith("*")
           or (o and not o.startswith(("$", "%", "*")) and not re.match(r"^-?\d", o))]
    return mnem, ops, mem


def main():
    if len(sys.argv) < 5:
        fail("usage: crosscheck.py TYPES.conf UNIT.s UNIT.optimized UNIT.o [PLUGIN_STDERR]")
    global TYPES
    TYPES, fields = read_config(sys.argv[1])
    asm_path, dump_path, obj = sys.argv[2:5]
    reported = set()
    if len(sys.argv) > 5:
        for line in open(sys.argv[5]):
            m = re.match(r"^(.*?):(\d+):\d+: warning: afterburn_pt: page-table access in an", line)
            if m:
                reported.add(int(m.group(2)))
    dwarf = dwarf_globals(obj)
    funcs = parse_dump(dump_path, asm_path)
    counts = {"store": 0, "load": 0}
    confirmed = {"store": 0, "load": 0}
    disagreements, unpadded, unconfirmable, untypable = [], 0, 0, []
    block_marked = {}
    for func, marked, (what, payload) in parse_asm(asm_path):
        if marked:
            counts[marked] = counts.get(marked, 0) + 1
        typer = Typer(TYPES, fields, dwarf, funcs.get(func, EMPTY_FN))
        if what == "asm":
            src_line, payload = payload
            # -fverbose-asm appends the operand names to the template's first line.
            last = next((x for x in payload if "\t#" in x), payload[-1] if payload else "")
            comment = last.split("\t#", 1)[1] if "\t#" in last else ""
            verdicts = [typer.expr(x) for x in split_top(comment) if x]
            if AMBIGUOUS in verdicts and True not in verdicts:
                unconfirmable += 1
                untypable.append(f"{func}: {last.strip()}")
                continue
            pt = True in verdicts
            if pt and not marked:
                # The plugin's own warning (an asm it cannot pad) makes a miss a reported one.
                if src_line in reported:
                    unpadded += 1
                    continue
                disagreements.append(f"{func}: asm statement accesses an entry but is not marked: {last.strip()}")
            elif marked and not pt:
                disagreements.append(f"{func}: asm statement marked {marked}, but no operand is an entry: {last.strip()}")
            elif marked:
                confirmed[marked] += 1
            continue
        mnem, ops, mem = memory_operands(payload)
        if mnem.startswith(("call", "jmp")) or mnem.startswith(("movs", "stos")):
            if marked:
                block_marked[func] = block_marked.get(func, 0) + 1
            continue
        if not mem:
            if marked:
                disagreements.append(f"{func}: `{payload}` is marked {marked} but has no memory operand")
            continue
        comment = payload.split("\t#", 1)[1] if "\t#" in payload else ""
        slots = split_top(comment) if comment.strip() else []
        if len(slots) == len(ops):
            exprs = [slots[k] for k in mem]
        else:
            exprs = slots  # GCC names each operand once: judge every named one
        verdicts = [typer.expr(x) for x in exprs if x and not re.match(r"^tmp\d+$", x)]
        if AMBIGUOUS in verdicts and True not in verdicts:
            unconfirmable += 1
            untypable.append(f"{func}: {payload.strip()}" + (f" (marked {marked})" if marked else ""))
            continue
        pt = True in verdicts
        kind = None
        if pt:
            writes = mem[-1] == len(ops) - 1 and not READ_ONLY.match(mnem)
            writes = writes or mnem.startswith(("xchg", "cmpxchg", "xadd"))
            kind = "store" if writes else "load"
        if kind != marked:
            disagreements.append(f"{func}: `{payload.strip()}`: plugin {marked or 'unmarked'}, "
                                 f"cross-check {kind or 'no entry'}")
        elif kind:
            confirmed[kind] += 1
    # Block calls: the dump's calls with entry arguments, per function, against the markers.
    for func, info in funcs.items():
        typer = Typer(TYPES, fields, dwarf, info)
        want = 0
        for dst, src, name in info["calls"]:
            def entry_ptr(a):
                a = a.strip()
                if a.startswith("&"):
                    t, auto = typer.type_of(a[1:])
                    if isinstance(t, Type) and not auto and t.name in TYPES and t.pointers == 0:
                        return True
                return typer.entry_pointer(a) is True
            if entry_ptr(dst) or ("memset" not in name and entry_ptr(src)):
                want += 1
        got = block_marked.get(func, 0)
        if want != got:
            disagreements.append(f"{func}: {want} block calls on entries in the tree dump, {got} marked")
    print(f"crosscheck: {asm_path}: marked store={counts.get('store', 0)} load={counts.get('load', 0)}; "
          f"confirmed store={confirmed['store']} load={confirmed['load']}; "
          f"block calls={sum(block_marked.values())}; reported unpadded asm={unpadded}; "
          f"not typable here={unconfirmable}; "
          f"disagreements={len(disagreements)}")
    if "-v" in sys.argv:
        for u in untypable:
            print(f"  not typable: {u}")
    for d in disagreements[:40]:
        print(f"  DISAGREE {d}")
    if len(disagreements) > 40:
        print(f"  ... {len(disagreements) - 40} more")
    return 1 if disagreements else 0


TYPES = set()
EMPTY_FN = {"vars": {}, "params": {}, "defs": {}, "calls": []}
if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError, KeyError, IndexError, RecursionError) as e:
        # Exit 1 means "disagree": a crash of the check itself is a different thing.
        fail(f"{type(e).__name__}: {e}")
