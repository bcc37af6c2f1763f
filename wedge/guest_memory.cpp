#include "wedge/guest_memory.h"

namespace afterburn::wedge {

bool guest_memory::access(uint64_t address, void *buf, size_t len, bool write, access_mode mode, bool stack,
                          event &fault)
{
    if (len && (!is_canonical(address) || !is_canonical(address + len - 1))) {
        fault = event::fault(stack ? vec::ss : vec::gp, 0);
        return false;
    }
    page_fault pf;
    bool ok = write ? be_.write(address, buf, len, mode, pf) : be_.read(address, buf, len, mode, pf);
    if (!ok) fault = event::page_fault(pf.error_code, pf.address);
    return ok;
}

bool guest_memory::read(const linear_address &la, void *dst, size_t len, event &fault)
{
    return access(la.address, dst, len, false, cpu_.cpl == 3 ? access_mode::user : access_mode::supervisor,
                  la.stack, fault);
}

bool guest_memory::write(const linear_address &la, const void *src, size_t len, event &fault)
{
    return access(la.address, const_cast<void *>(src), len, true,
                  cpu_.cpl == 3 ? access_mode::user : access_mode::supervisor, la.stack, fault);
}

bool guest_memory::read_system(uint64_t address, void *dst, size_t len, event &fault)
{
    return access(address, dst, len, false, access_mode::supervisor, false, fault);
}

bool guest_memory::write_system(uint64_t address, const void *src, size_t len, event &fault)
{
    return access(address, const_cast<void *>(src), len, true, access_mode::supervisor, false, fault);
}

bool guest_memory::read_code(uint64_t address, void *dst, size_t len, event &fault)
{
    return access(address, dst, len, false, cpu_.cpl == 3 ? access_mode::user : access_mode::supervisor, false,
                  fault);
}

bool operand_address(const annotation::site_record &rec, uint64_t site, const frame &f, const vcpu &cpu,
                     guest_memory &mem, linear_address &out, event &fault)
{
    int64_t disp = 0;
    if (rec.disp_offset != annotation::no_displacement && rec.disp_size) {
        if (rec.disp_size == 1) {
            int8_t d8;
            if (!mem.read_code(site + rec.disp_offset, &d8, 1, fault)) return false;
            disp = d8;
        } else {
            int32_t d32;
            if (!mem.read_code(site + rec.disp_offset, &d32, 4, fault)) return false;
            disp = d32;
        }
    }
    uint64_t ea = static_cast<uint64_t>(disp);
    bool stack = false;
    if (rec.mem_base == annotation::rip_base) {
        ea += site + rec.insn_len;
    } else if (rec.mem_base < 16) {
        ea += f.gpr[rec.mem_base];
        stack = rec.mem_base == rsp || rec.mem_base == rbp;
    }
    if (rec.mem_index < 16) ea += f.gpr[rec.mem_index] * (rec.mem_scale ? rec.mem_scale : 1);
    switch (rec.mem_seg) {
    case annotation::seg_fs: ea += cpu.fs_base, stack = false; break;
    case annotation::seg_gs: ea += cpu.gs_base, stack = false; break;
    case annotation::seg_ss: stack = true; break;
    case annotation::seg_ds:
    case annotation::seg_es:
    case annotation::seg_cs: stack = false; break;
    default: break;
    }
    out = linear_address{ea, stack};
    return true;
}

} // namespace afterburn::wedge
