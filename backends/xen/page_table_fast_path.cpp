// Page-table sites without the full wedge entry (page_table_fast_path.h).
//
// Why finishing here is what the full path would do: the full path (site_dispatch ->
// try_page_table_fast) runs such a site only when nothing can be delivered at its exit (CPL 0,
// no single step, nothing pending with the virtual IF on: kernel_fast_path_open), emulates the
// instruction through direct_page_table_memory (shadow paging: the guest's memory as it is) and
// returns by resume_kernel_fast, which sends no queued update and changes no state this path
// depends on. Here the same conditions are checked first, the operand comes from the
// instruction's record (base, index, scale, displacement, register: what emulate_page_table
// computes every time), and the access is direct_fast_*, which does exactly what
// direct_page_table_memory does for the cases it takes, or under shadow paging the guest's own
// access through the shadow the wedge runs on (guest_probe_*), and leaves every other case (a
// walk, a fault) to the full path before changing anything. A store tells the shadow first, as
// the full path does (shadow_mmu::table_stored). A mov or xchg changes no flags; like any
// emulated instruction the site ends an interrupt shadow.
//
// Events stay open meanwhile, as in the entry window's other fast paths: an upcall striking
// here finds a wedge address and only asks to be retried (guest_event); a fault on the native
// access (a former table's read-only alias, written) goes to direct_fix_wedge_fault as the full
// path's native access does, and under shadow paging a missing or read-only shadow leaf to
// shadow_fix_wedge_fault's fill, as the guest's own access would (guest_probe.h).
#include "page_table_fast_path.h"

#include "afterburn/annotation.h"
#include "afterburn/site_kind.h"
#include "guest_platform.h"
#include "guest_probe.h"
#include "page_table_direct.h"
#include "page_table_fast_flags.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "run_stats.h"
#include "site_frame.h"
#include "wedge/frame.h"
#include "wedge/page_table_memory.h"

namespace xw {

namespace {

namespace ann = afterburn::annotation;
using afterburn::wedge::pt_op;

// `emulated`: any other memory-operand or string form, through emulate_page_table on a copy of
// the registers with memory that declines instead of faulting (fast_memory below).
enum class fast_form : uint8_t { none, load, store, store_immediate, exchange, test, compare, emulated };

// One site as the fast path performs it: the effective address is disp + base + index * scale
// (a RIP-relative operand's absolute address is `disp`, base none), `reg` the loaded, stored
// or exchanged register (hardware number), `imm` a stored immediate.
struct fast_site {
    uint64_t ret = 0;        // the call's return address (the key); 0: free
    uint64_t resume_at = 0;  // where the guest goes on
    int64_t disp = 0;
    int64_t imm = 0;
    uint8_t kind = 0;
    fast_form form = fast_form::none;
    uint8_t base = ann::no_register, index = ann::no_register, scale = 1, reg = 0;
    uint8_t bits = 64;                  // test, compare: the operand width
    bool immediate = false;             // test, compare: the source is `imm` (else `reg`)
    bool register_first = false;        // compare: `cmp (mem), reg` (the register minus the entry)
    const afterburn::wedge::site *site = nullptr;  // for `emulated`
};

// Linux has ~400 page-table sites; open addressing on the return address, never removed.
constexpr unsigned site_slots = 1024;
constinit fast_site g_sites[site_slots];
constinit uint64_t g_completions;

unsigned slot_of(uint64_t ret) { return static_cast<unsigned>((ret * 0x9e3779b97f4a7c15ull) >> 54); }

const fast_site *find(uint64_t ret) {
    for (unsigned i = slot_of(ret), n = 0; n < site_slots; ++n, i = (i + 1) % site_slots) {
        if (g_sites[i].ret == ret) return &g_sites[i];
        if (!g_sites[i].ret) return nullptr;
    }
    return nullptr;
}

int64_t displacement(const ann::site_record &rec, const uint8_t *insn) {
    if (rec.disp_size == 1) return static_cast<int8_t>(insn[rec.disp_offset]);
    if (rec.disp_size != 4) return 0;
    const uint8_t *d = insn + rec.disp_offset;
    return static_cast<int32_t>(static_cast<uint32_t>(d[0]) | static_cast<uint32_t>(d[1]) << 8 |
                                static_cast<uint32_t>(d[2]) << 16 | static_cast<uint32_t>(d[3]) << 24);
}

// The forms done here, with one memory operand without an FS/GS base: test and cmp of any
// width, an 8-byte mov to or from a 64-bit register, mov of an immediate, xchg with a 64-bit
// register; no rsp as the register (its saved value is not the guest's).
fast_form form_of(const afterburn::wedge::site &s) {
    const ann::site_record &r = s.rec;
    if (r.special != static_cast<uint8_t>(afterburn::page_table_form::memory_operand) || r.mem_seg == ann::seg_fs ||
        r.mem_seg == ann::seg_gs)
        return fast_form::none;
    if (r.mem_index != ann::no_register && r.mem_index >= 16) return fast_form::none;
    if (r.mem_base != ann::no_register && r.mem_base != ann::rip_base && r.mem_base >= 16) return fast_form::none;
    const bool reg_ok = r.reg < 16 && r.reg != afterburn::wedge::rsp;
    // Flags only: pmd_none(), pte_present() and friends.
    if (s.pt.op == pt_op::test && (s.pt.immediate || reg_ok)) return fast_form::test;
    if (s.pt.op == pt_op::cmp && (s.pt.immediate || reg_ok)) return fast_form::compare;
    if (ann::operand_bits(r.flags) != 64) return fast_form::none;
    switch (s.pt.op) {
    case pt_op::mov_load: return reg_ok && s.pt.reg_bits == 64 ? fast_form::load : fast_form::none;
    case pt_op::mov_store:
        if (s.pt.immediate) return fast_form::store_immediate;
        return reg_ok ? fast_form::store : fast_form::none;
    case pt_op::xchg: return reg_ok && !s.pt.immediate ? fast_form::exchange : fast_form::none;
    default: return fast_form::none;
    }
}

// The access. Direct paging: what direct_page_table_memory does (direct_fast_*). Shadow paging:
// the guest's tables are plain memory, accessed as the guest's instruction would access them,
// through the shadow (a leaf the guest's tables do not give: declined, the full path raises the
// #PF). An xchg there is a load and a store: one vCPU, and nothing but the guest's stores and
// the shadow's fills writes a guest entry (no hardware A/D: Xen runs the shadow, not these);
// a store that faults after the load has changed nothing.
bool fast_load(bool direct, uint64_t address, unsigned width, uint64_t &value) {
    if (direct) return direct_fast_load(address, width, value);
    value = 0;
    return guest_probe_read(address, &value, width);
}

bool fast_store(bool direct, uint64_t address, unsigned width, uint64_t value) {
    if (direct) return direct_fast_store(address, width, value);
    return guest_probe_write(address, &value, width);
}

bool fast_exchange(bool direct, uint64_t address, uint64_t value, uint64_t &old) {
    if (direct) return direct_fast_exchange(address, value, old);
    return guest_probe_read(address, &old, 8) && guest_probe_write(address, &value, 8);
}

// Block calls (memcpy and friends) are left to the full path: a decline half way could not be
// resumed where it stopped, as an interrupted rep string instruction can.
bool emulated_here(const afterburn::wedge::site &s) {
    switch (s.pt.op) {
    case pt_op::none: case pt_op::memcpy: case pt_op::memmove: case pt_op::memset: return false;
    default: return true;
    }
}

// Memory for emulate_page_table that never raises a fault: what fast_* decline (a walk,
// a fault, anything unusual) ends the emulation with `declined` set, before that access changed
// anything.
class fast_memory final : public afterburn::wedge::page_table_memory {
public:
    explicit fast_memory(bool direct) : direct_(direct) {}
    bool declined = false;
    bool load(uint64_t address, unsigned width, uint64_t &value, afterburn::wedge::event &) override {
        value = 0;
        declined = !fast_load(direct_, address, width, value);
        return !declined;
    }
    bool store(uint64_t address, unsigned width, uint64_t value, afterburn::wedge::event &) override {
        declined = !fast_store(direct_, address, width, value);
        return !declined;
    }

private:
    const bool direct_;
};


// The guest's rsp at the site: above the kind and the call's return address.
uint64_t guest_rsp_at_site() { return wedge_site_guest_rsp + 16; }

// The site's instruction by emulate_page_table on a copy of the saved registers. Its registers
// and flags go back to the saved frame whether it finished or declined: a declined memory-operand
// form changed nothing yet (its one store is its last access), a declined rep string form has
// its registers where the iterations done leave them, and the full path goes on from there, as
// after an interrupted rep instruction.
bool emulate(const fast_site &d, site_frame &f, afterburn::wedge::vcpu &c, bool direct) {
    namespace wedge = afterburn::wedge;
    const wedge::site &s = *d.site;
    wedge::frame fr;
    for (unsigned n = 0; n < 16; ++n) fr.gpr[n] = n == wedge::rsp ? guest_rsp_at_site() : site_frame_gpr(f, n);
    fr.rip = s.insn;
    fr.rflags = (f.rflags & wedge::flags::real) | wedge::flags::fixed1;
    fast_memory mem(direct);
    const wedge::emulation r =
        wedge::emulate_page_table(s.pt, s.rec, s.original + (s.insn - s.start), s.insn, d.resume_at, c, fr, mem);
    for (unsigned n = 0; n < 16; ++n)
        if (n != wedge::rsp) site_frame_gpr(f, n) = fr.gpr[n];
    f.rflags = (f.rflags & ~wedge::flags::real) | (fr.rflags & wedge::flags::real);
    return !mem.declined && r.what == wedge::action::resume && fr.rip == d.resume_at;
}

// A rep movs/stos site under shadow paging, where both sides are plain guest memory: copied
// (or filled) a piece at a time through the probes, each piece inside one page of each side, as
// many whole elements as fit, instead of two probes per element (Linux's pgd_alloc copies the
// kernel half of swapper_pg_dir with a `rep movsl` of 478 iterations on every fork and exec).
// Only forward (DF clear) and, for movs, without the destination overlapping the source ahead
// of it (which a forward element-wise copy would replicate). After each piece rcx, rsi and rdi
// are where that many iterations put them, so a piece the probes refuse (a fault, site bytes,
// an element across a page) leaves the rest to the full path, as an interrupted rep
// instruction resumes. True: the whole instruction is done.
bool shadow_string(const fast_site &d, site_frame &f) {
    namespace wedge = afterburn::wedge;
    const wedge::site &s = *d.site;
    if (s.pt.op != pt_op::movs && s.pt.op != pt_op::stos) return false;
    if (f.rflags & wedge::flags::df) return false;
    const uint64_t width = ann::operand_bits(s.rec.flags) / 8;
    const bool rep = s.rec.flags & ann::flag_rep;
    const bool movs = s.pt.op == pt_op::movs;
    uint64_t &rcx = site_frame_gpr(f, wedge::rcx), &rsi = site_frame_gpr(f, wedge::rsi),
             &rdi = site_frame_gpr(f, wedge::rdi);
    uint64_t left = rep ? rcx : 1;
    if (movs && rdi > rsi && (rdi - rsi) / width < left) return false;
    uint8_t buf[512];
    if (!movs) {
        const uint64_t v = site_frame_gpr(f, wedge::rax);
        for (unsigned i = 0; i < sizeof buf; ++i) buf[i] = static_cast<uint8_t>(v >> (8 * (i % width)));
    }
    while (left) {
        uint64_t room = 0x1000 - (rdi & 0xfff);
        if (movs && 0x1000 - (rsi & 0xfff) < room) room = 0x1000 - (rsi & 0xfff);
        if (room > sizeof buf) room = sizeof buf;
        uint64_t n = room / width;  // whole elements
        if (n > left) n = left;
        if (!n) return false;       // an element across a page: the full path
        const size_t bytes = static_cast<size_t>(n * width);
        if (movs && !guest_probe_read(rsi, buf, bytes)) return false;
        if (!guest_probe_write(rdi, buf, bytes)) return false;
        rdi += bytes;
        if (movs) rsi += bytes;
        if (rep) rcx -= n;
        left -= n;
    }
    return true;
}

} // namespace

void note_page_table_fast_site(const afterburn::wedge::site &s, uint64_t resume_at) {
    const uint64_t ret = s.call_return();
    if (find(ret)) return;
    unsigned i = slot_of(ret), n = 0;
    for (; n < site_slots && g_sites[i].ret; ++n) i = (i + 1) % site_slots;
    if (n == site_slots) return;  // full: such sites keep the full path
    fast_site d;
    d.ret = ret;
    d.resume_at = resume_at;
    d.kind = s.rec.kind;
    d.form = form_of(s);
    if (d.form == fast_form::none && emulated_here(s)) {
        d.form = fast_form::emulated;
        d.site = &s;
    } else if (d.form != fast_form::none) {
        const ann::site_record &r = s.rec;
        d.disp = displacement(r, s.original + (s.insn - s.start));
        if (r.mem_base == ann::rip_base) d.disp += static_cast<int64_t>(s.insn + r.insn_len);
        else d.base = r.mem_base;
        d.index = r.mem_index;
        d.scale = r.mem_scale ? r.mem_scale : 1;
        d.reg = r.reg;
        d.imm = r.imm;
        d.bits = static_cast<uint8_t>(ann::operand_bits(r.flags));
        d.immediate = s.pt.immediate;
        d.register_first = s.pt.to_register;
    }
    g_sites[i] = d;
}

uint64_t page_table_fast_completions() { return g_completions; }

} // namespace xw

extern "C" bool page_table_fast(xw::site_frame *f) {
    using namespace xw;
    const bool direct = direct_active();
    if (!direct && !shadow_active()) return false;  // neither runs yet: the full path
    afterburn::wedge::vcpu &c = cpu();
    // kernel_fast_path_open, on the saved flags.
    if (c.cpl != 0 || (f->rflags & afterburn::wedge::flags::tf) || (c.virtual_if() && c.page.pending)) return false;
    auto *stack = reinterpret_cast<uint64_t *>(wedge_site_guest_rsp);  // [0] the kind, [1] the return address
    const fast_site *d = find(stack[1]);
    if (!d || d->form == fast_form::none || d->kind != stack[0]) return false;
    if (!direct && d->kind == static_cast<uint8_t>(afterburn::site_kind::page_table_store))
        shadow().table_stored();
    const uint64_t guest_rsp = guest_rsp_at_site();
    auto value_of = [&](uint8_t n) { return n == afterburn::wedge::rsp ? guest_rsp : site_frame_gpr(*f, n); };
    uint64_t ea = static_cast<uint64_t>(d->disp);
    if (d->base != ann::no_register) ea += value_of(d->base);
    if (d->index != ann::no_register) ea += value_of(d->index) * d->scale;
    switch (d->form) {
    case fast_form::load: {
        uint64_t v;
        if (!fast_load(direct, ea, 8, v)) return false;
        site_frame_gpr(*f, d->reg) = v;
        break;
    }
    case fast_form::store:
        if (!fast_store(direct, ea, 8, site_frame_gpr(*f, d->reg))) return false;
        break;
    case fast_form::store_immediate:
        if (!fast_store(direct, ea, 8, static_cast<uint64_t>(d->imm))) return false;
        break;
    case fast_form::exchange: {
        uint64_t old;
        if (!fast_exchange(direct, ea, site_frame_gpr(*f, d->reg), old)) return false;
        site_frame_gpr(*f, d->reg) = old;
        break;
    }
    case fast_form::test:
    case fast_form::compare: {
        uint64_t v;
        if (!fast_load(direct, ea, d->bits / 8, v)) return false;
        const uint64_t other = afterburn::wedge::truncate(
            d->immediate ? static_cast<uint64_t>(d->imm) : value_of(d->reg), d->bits);
        const uint64_t fl = d->form == fast_form::test ? fast_flags::of_test(v, other, d->bits)
                            : d->register_first         ? fast_flags::of_compare(other, v, d->bits)
                                                        : fast_flags::of_compare(v, other, d->bits);
        f->rflags = (f->rflags & ~fast_flags::arithmetic) | fl;
        break;
    }
    case fast_form::emulated:
        // A string not done in pieces (or only in part) goes on element by element.
        if (direct || !shadow_string(*d, *f))
            if (!emulate(*d, *f, c, direct)) return false;
        break;
    default: return false;
    }
    c.interrupt_shadow = false;
    ++g_run_stats.kind_entries[d->kind];
    ++g_completions;
    stack[1] = d->resume_at;  // where the stub's `ret` goes
    return true;
}
