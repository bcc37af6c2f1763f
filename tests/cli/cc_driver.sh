#!/usr/bin/env bash
# afterburn-cc as a drop-in gcc: C with inline asm, a preprocessed .S with a macro, debug
# info (-g: .loc/.file with views), -pipe (assembly through standard input), a link; the
# result must scan clean with every site annotated. A syntax error must come back as
# GNU as's own message with file and line.
set -u
cc=$1 afterburn=$2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$dir/irq.c" <<'C'
static inline unsigned long save_flags(void)
{
    unsigned long f;
    asm volatile("pushf; pop %0" : "=rm"(f) :: "memory");
    return f;
}
void irq_off(void) { asm volatile("cli" ::: "memory"); }
void irq_on(void) { asm volatile("sti" ::: "memory"); }
unsigned long flags_and_tsc(void)
{
    unsigned lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return save_flags() ^ ((unsigned long)hi << 32 | lo);
}
void port_out(unsigned short port, unsigned char v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
C
cat > "$dir/entry.S" <<'S'
#define SYM(x) .globl x; x:
.macro LOAD_CR3 reg
	mov \reg, %cr3
.endm
	.text
SYM(switch_mm)
	LOAD_CR3 %rdi
	swapgs
	ret
	.section .note.GNU-stack, "", @progbits
S
cat > "$dir/main.c" <<'C'
void irq_off(void); void irq_on(void); unsigned long flags_and_tsc(void);
int main(void) { return 0; }
C
for f in irq.c entry.S main.c; do
    "$cc" -O2 -g -pipe -c "$dir/$f" -o "$dir/${f%.*}.o" 2> "$dir/err" || fail "compile $f: $(cat "$dir/err")"
done
# No C runtime: its prebuilt start files are not ours to annotate.
"$cc" -nostdlib -static -Wl,-e,main -o "$dir/prog" "$dir/irq.o" "$dir/entry.o" "$dir/main.o" || fail "link"
"$afterburn" scan "$dir/prog" > "$dir/scan" || fail "scan of the linked program: $(cat "$dir/scan")"
for k in cli sti pushf rdtsc out mov_to_cr swapgs; do
    grep -qE "^  $k +1 +1 +0 +0$" "$dir/scan" || fail "$k not annotated once: $(cat "$dir/scan")"
done

printf 'void f(void) { asm volatile("movq %%%%rax, %%%%cr99"); }\n' > "$dir/bad.c"
"$cc" -c "$dir/bad.c" -o "$dir/bad.o" 2> "$dir/err" && fail "bad inline asm was accepted"
grep -q "Error: bad register name" "$dir/err" || fail "no GNU as error: $(cat "$dir/err")"
grep -qE "(bad\.c|\.s):[0-9]+: Error" "$dir/err" || fail "error names no file and line: $(cat "$dir/err")"
echo "afterburn-cc driver: ok"
