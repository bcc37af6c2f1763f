#include "wedge/interrupts.h"

#include "wedge/descriptor.h"
#include "wedge/devices/local_apic.h"
#include "wedge/guest_memory.h"
#include "wedge/interrupt_controller.h"

namespace afterburn::wedge {

idt_gate decode_idt_gate(const uint64_t raw[2])
{
    idt_gate g;
    g.target = (raw[0] & 0xffff) | (((raw[0] >> 48) & 0xffff) << 16) | ((raw[1] & 0xffffffffull) << 32);
    g.cs = static_cast<uint16_t>(raw[0] >> 16);
    g.type = static_cast<uint8_t>((raw[0] >> 40) & 0xf);
    g.dpl = static_cast<uint8_t>((raw[0] >> 45) & 3);
    g.ist = static_cast<uint8_t>((raw[0] >> 32) & 7);
    g.present = ((raw[0] >> 47) & 1) != 0;
    return g;
}

handler_code check_handler_code(const segment_descriptor &code, uint8_t cpl)
{
    if (!code.code() || !code.long_mode() || code.big() || code.dpl() > cpl) return handler_code::gp;
    if (!code.present()) return handler_code::np;
    return handler_code::ok;
}

unsigned interrupt_frame_image(const vcpu &cpu, const frame &f, const event &ev, uint64_t image[6])
{
    // SS, RSP, RFLAGS, CS, RIP, [error code], highest address first.
    unsigned n = 0;
    if (ev.has_error_code) image[n++] = ev.error_code;
    image[n++] = ev.type == event_type::software ? ev.return_rip : f.rip;
    image[n++] = cpu.cs();
    image[n++] = visible_rflags(cpu, f);
    image[n++] = f.gpr[gpr::rsp];
    image[n++] = cpu.ss();
    return n;
}

bool enter_handler(vcpu &cpu, frame &f, uint64_t target, uint16_t cs, uint8_t new_cpl, unsigned gate_type,
                   uint64_t new_rsp)
{
    const bool privilege_changed = new_cpl != cpu.cpl;
    f.gpr[gpr::rsp] = new_rsp;
    f.rip = target;
    f.rflags &= ~(flags::tf | flags::nt | flags::rf);
    cpu.selector[annotation::seg_cs] = static_cast<uint16_t>((cs & 0xfffc) | new_cpl);
    if (privilege_changed) cpu.selector[annotation::seg_ss] = new_cpl;  // null SS, RPL = new CPL
    cpu.cpl = new_cpl;
    if (gate_type == system_type::interrupt_gate) cpu.set_virtual_if(false);
    cpu.halted = false;
    cpu.interrupt_shadow = false;
    return privilege_changed;
}

namespace {

enum class fault_class : uint8_t { benign, contributory, page_fault };

fault_class class_of(const event &ev)
{
    if (ev.type != event_type::exception) return fault_class::benign;
    switch (ev.vector) {
    case vec::de:
    case vec::ts:
    case vec::np:
    case vec::ss:
    case vec::gp: return fault_class::contributory;
    case vec::pf: return fault_class::page_fault;
    default: return fault_class::benign;
    }
}

// Error code for a fault caused by the IDT entry itself (IDT bit 1, EXT bit 0).
uint32_t idt_error(uint8_t vector, uint32_t ext) { return vector * 8u + 2u + ext; }

// Reads TSS.RSP0..2 (index 0..2) or IST1..7 (index 3 + n - 1) from the guest's TSS.
bool tss_stack(const vcpu &cpu, guest_memory &mem, unsigned offset, uint32_t ext, uint64_t &rsp, event &fault)
{
    if (!cpu.tr.usable || offset + 7 > cpu.tr.limit) {
        fault = event::fault(vec::ts, selector_error(cpu.tr.selector) | ext);
        return false;
    }
    return mem.read_system(cpu.tr.base + offset, &rsp, 8, fault);
}

bool try_deliver(vcpu &cpu, frame &f, const event &ev, guest_memory &mem, event &fault)
{
    const uint32_t ext = ev.type == event_type::external ? 1 : 0;
    const uint8_t v = ev.vector;
    if (ev.type == event_type::exception && v == vec::pf) cpu.cr2 = ev.cr2;

    if (v * 16u + 15u > cpu.idtr.limit) {
        fault = event::fault(vec::gp, idt_error(v, ext));
        return false;
    }
    uint64_t gate[2];
    if (!mem.read_system(cpu.idtr.base + v * 16u, gate, 16, fault)) return false;
    const idt_gate g = decode_idt_gate(gate);
    const unsigned type = g.type;
    if (type != system_type::interrupt_gate && type != system_type::trap_gate) {
        fault = event::fault(vec::gp, idt_error(v, ext));
        return false;
    }
    if (ev.type == event_type::software && g.dpl < cpu.cpl) {
        fault = event::fault(vec::gp, idt_error(v, 0));
        return false;
    }
    if (!g.present) {
        fault = event::fault(vec::np, idt_error(v, ext));
        return false;
    }
    const uint64_t target = g.target;
    const uint16_t cs = g.cs;
    const unsigned ist = g.ist;

    if ((cs & 0xfffc) == 0) {
        fault = event::fault(vec::gp, ext);
        return false;
    }
    segment_descriptor code;
    switch (read_descriptor(cpu, mem, cs, false, code, fault)) {
    case descriptor_lookup::fault: return false;
    case descriptor_lookup::outside_table: fault = event::fault(vec::gp, selector_error(cs) | ext); return false;
    case descriptor_lookup::ok: break;
    }
    switch (check_handler_code(code, cpu.cpl)) {
    case handler_code::ok: break;
    case handler_code::gp: fault = event::fault(vec::gp, selector_error(cs) | ext); return false;
    case handler_code::np: fault = event::fault(vec::np, selector_error(cs) | ext); return false;
    }
    uint8_t new_cpl = code.conforming() ? cpu.cpl : static_cast<uint8_t>(code.dpl());

    uint64_t rsp = f.gpr[gpr::rsp];
    if (ist) {
        if (!tss_stack(cpu, mem, 0x24 + 8 * (ist - 1), ext, rsp, fault)) return false;
    } else if (new_cpl < cpu.cpl) {
        if (!tss_stack(cpu, mem, 4 + 8 * new_cpl, ext, rsp, fault)) return false;
    }
    rsp &= ~0xfull;
    if (!is_canonical(rsp)) {
        fault = event::fault(vec::ss, ext);
        return false;
    }

    // SS, RSP, RFLAGS, CS, RIP, [error code], highest address first.
    uint64_t image[6];
    const unsigned n = interrupt_frame_image(cpu, f, ev, image);
    uint64_t new_rsp = rsp - 8ull * n;
    if (!mem.write_system(new_rsp, image, 8ull * n, fault)) return false;
    if (!is_canonical(target)) {
        fault = event::fault(vec::gp, ext);
        return false;
    }

    if (enter_handler(cpu, f, target, cs, new_cpl, type, new_rsp)) mem.host().state_changed(cpu, state_change::privilege);
    return true;
}

int pick_vector(vcpu &cpu, interrupt_controller *&from)
{
    if (cpu.extint) {
        int v = cpu.extint->pending_vector();
        if (v >= 0) return from = cpu.extint, v;
    }
    if (cpu.apic) {
        int v = cpu.apic->pending_vector();
        if (v >= 0) return from = cpu.apic, v;
        return -1;
    }
    from = nullptr;
    return cpu.pending.highest();
}

} // namespace

uint64_t visible_rflags(const vcpu &cpu, const frame &f)
{
    return visible_rflags(cpu, f.rflags);
}

delivery deliver(vcpu &cpu, frame &f, const event &ev, backend &be)
{
    guest_memory mem(cpu, be);
    event current = ev;
    for (int attempt = 0; attempt < 4; ++attempt) {
        event fault;
        if (try_deliver(cpu, f, current, mem, fault)) return delivery::delivered;
        // The CPU writes CR2 when it detects a page fault, even one that becomes #DF.
        if (fault.vector == vec::pf) cpu.cr2 = fault.cr2;
        fault_class first = class_of(current), second = class_of(fault);
        if (current.type == event_type::exception && current.vector == vec::df && second != fault_class::benign)
            return delivery::shutdown;
        if ((first == fault_class::contributory && second == fault_class::contributory) ||
            (first == fault_class::page_fault && second != fault_class::benign))
            current = event::fault(vec::df, 0);
        else
            current = fault;  // benign: the second one is delivered instead, at the same rip
    }
    return delivery::shutdown;
}

bool refresh_pending_hint(vcpu &cpu)
{
    bool any;
    if (cpu.extint && cpu.extint->pending_vector() >= 0)
        any = true;
    else if (cpu.apic)
        any = cpu.apic->pending_vector() >= 0;
    else
        any = !cpu.pending.empty();
    cpu.page.pending = any ? 1 : 0;
    return any;
}

void note_inline_sti_shadow(vcpu &cpu, uint64_t rip)
{
    if (cpu.page.inline_sti_end != rip) return;
    cpu.interrupt_shadow = true;
    cpu.shadow_rip = rip;
}

unsigned deliver_pending(vcpu &cpu, frame &f, backend &be, bool *dead)
{
    unsigned delivered = 0;
    // Bounded: each delivery through a trap gate may open the window again.
    while (delivered < 16 && cpu.virtual_if()) {
        if (cpu.interrupt_shadow) {
            if (f.rip == cpu.shadow_rip) break;  // the shadowed instruction has not run yet
            cpu.interrupt_shadow = false;
        }
        interrupt_controller *from = nullptr;
        int v = pick_vector(cpu, from);
        if (v < 0) break;
        if (from)
            from->acknowledge(static_cast<uint8_t>(v));
        else
            cpu.pending.clear(static_cast<uint8_t>(v));
        ++delivered;
        if (deliver(cpu, f, event::interrupt(static_cast<uint8_t>(v)), be) == delivery::shutdown) {
            if (dead) *dead = true;
            break;
        }
    }
    refresh_pending_hint(cpu);
    return delivered;
}

} // namespace afterburn::wedge
