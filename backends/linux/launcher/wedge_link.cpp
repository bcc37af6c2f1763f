#include "wedge_link.h"

#include <cstring>

#include "../wedge/kvm_wedge_abi.h"
#include "boot_layout.h"
#include "exit_codes.h"
#include "long_mode.h"

namespace afterburn::kvm {

namespace abi = afterburn::kvm_wedge;

namespace {
std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}
}  // namespace

WedgeLink::WedgeLink(const ElfImage& wedge, const ElfImage& guest, const GuestMemory& mem)
    : wedge_(wedge), guest_(guest) {
    uint64_t low_end = mem.ranges().front().size;   // RAM [0, low_end)
    if (low_end < 2 * kWindowSize + layout::kReservedEnd)
        throw Error(kBadImage, "--wedge: guest memory too small to reserve 2 MiB for the wedge");
    pa_ = (low_end - kWindowSize) & ~(kWindowSize - 1);
    for (const LoadSegment& s : guest.segments())
        if (s.paddr < pa_ + kWindowSize && s.paddr + s.memsz > pa_)
            throw Error(kBadImage, "--wedge: the guest's segment at " + hex(s.paddr) + " overlaps the wedge's 2 MiB at " +
                                       hex(pa_) + " (the top of RAM below 3 GiB); give the guest more --memory");
    if (wedge.entry() < kWindow) throw Error(kBadImage, "--wedge: entry point " + hex(wedge.entry()) + " is not in the window");
}

void WedgeLink::load(GuestMemory& mem, std::vector<E820Entry>& e820) const {
    wedge_.load_relocated(mem, kWindow, pa_, kWindowSize - 4096);   // the last page is the wedge's mapping slot
    reserve_e820(e820, pa_, kWindowSize);
}

uint64_t WedgeLink::install(GuestMemory& mem, uint64_t boot_params, uint64_t guest_rsp) const {
    for (const LoadSegment& s : guest_.segments())
        if (s.vaddr != s.paddr) add_2m_mapping(mem, s.vaddr, s.paddr, s.memsz);
    add_2m_mapping(mem, kWindow, pa_, kWindowSize);

    abi::handoff h{};
    h.magic = abi::handoff_magic;
    h.version = abi::handoff_version;
    h.boot_params = boot_params;
    h.guest_entry = guest_.entry_vaddr();
    h.guest_rsp = guest_rsp;
    h.wedge_pa = pa_;
    h.wedge_size = kWindowSize;
    h.hypercall_port = abi::default_hypercall_port;
    if (guest_.notes().size() > abi::max_note_ranges)
        throw Error(kBadImage, "--wedge: the guest has more than " + std::to_string(abi::max_note_ranges) + " PT_NOTE segments");
    for (const VirtRange& n : guest_.notes()) h.notes[h.note_count++] = {n.vaddr, n.size};
    std::vector<VirtRange> user = guest_.sections_named(".user");
    if (user.size() > abi::max_user_ranges) throw Error(kBadImage, "--wedge: too many .user sections");
    for (const VirtRange& u : user) h.user_code[h.user_count++] = {u.vaddr, u.size};
    uint8_t* dst = mem.at(layout::kWedgeHandoff, sizeof h);
    if (!dst) throw Error(kBadImage, "--wedge: no RAM for the handoff");
    std::memcpy(dst, &h, sizeof h);
    return wedge_.entry();
}

bool WedgeLink::claims(uint16_t port) const { return port == abi::default_hypercall_port; }

std::optional<std::string> WedgeLink::hypercall(uint32_t request_gpa, const GuestMemory& mem, Uart8250& uart) {
    const uint8_t* p = mem.at(request_gpa, sizeof(abi::request));
    if (!p) return "wedge hypercall: request at " + hex(request_gpa) + " is not in guest RAM";
    abi::request r;
    std::memcpy(&r, p, sizeof r);
    calls_[r.op]++;
    const uint8_t* data = r.len ? mem.at(r.gpa, r.len) : reinterpret_cast<const uint8_t*>("");
    if (!data) return "wedge hypercall " + std::to_string(r.op) + ": [" + hex(r.gpa) + ", +" + hex(r.len) + ") is not in guest RAM";
    std::string text(reinterpret_cast<const char*>(data), r.len);
    switch (static_cast<abi::op>(r.op)) {
    case abi::op::console_write:
        console_bytes_ += r.len;
        uart.write_text(text);
        return std::nullopt;
    case abi::op::log:
        uart.flush();
        std::fprintf(stderr, "kvm-wedge: %s\n", text.c_str());
        return std::nullopt;
    case abi::op::fatal:
        return "kvm-wedge: fatal: " + text;
    case abi::op::register_console:
        if (r.len < sizeof(abi::console_buffer)) return "wedge hypercall register_console: buffer too small";
        console_gpa_ = r.gpa;
        return std::nullopt;
    }
    return "wedge hypercall: unknown op " + std::to_string(r.op);
}

void WedgeLink::drain(const GuestMemory& mem, Uart8250& uart) const {
    if (!console_gpa_) return;
    const uint8_t* p = mem.at(console_gpa_, sizeof(abi::console_buffer));
    if (!p) return;
    uint32_t len;
    std::memcpy(&len, p, 4);
    if (len > abi::console_capacity) len = abi::console_capacity;
    if (len) {
        uart.write_text(std::string(reinterpret_cast<const char*>(p + 8), len));
        std::fprintf(stderr, "afterburn-kvm: drained %u console bytes the wedge had not sent\n", len);
    }
}

void WedgeLink::print_stats(std::FILE* f) const {
    static const char* names[] = {"?", "console_write", "log", "fatal", "register_console"};
    std::fprintf(f, "  wedge hypercalls (port 0x%04x):", abi::default_hypercall_port);
    for (auto [op, n] : calls_)
        std::fprintf(f, " %s %llu", op < 5 ? names[op] : "unknown", (unsigned long long)n);
    std::fprintf(f, "; console bytes %llu\n", (unsigned long long)console_bytes_);
}

}  // namespace afterburn::kvm
