#include "wedge_link.h"

#include <cstddef>
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

wedge_link::wedge_link(const boot::elf64_image& wedge, const boot::elf64_image& guest, const guest_memory& mem)
    : wedge_(wedge), guest_(guest) {
    uint64_t low_end = mem.ranges().front().size;   // RAM [0, low_end)
    if (low_end < 2 * window_size + layout::reserved_end)
        throw fatal_error(exit_bad_image, "--wedge: guest memory too small to reserve 2 MiB for the wedge");
    pa_ = (low_end - window_size) & ~(window_size - 1);
    for (unsigned i = 0; i < guest.load_count; i++) {
        const boot::load_segment& s = guest.loads[i];
        if (s.paddr < pa_ + window_size && s.paddr + s.memsz > pa_)
            throw fatal_error(exit_bad_image, "--wedge: the guest's segment at " + hex(s.paddr) + " overlaps the wedge's 2 MiB at " +
                                                  hex(pa_) + " (the top of RAM below 3 GiB); give the guest more --memory");
    }
    if (wedge.entry < window) throw fatal_error(exit_bad_image, "--wedge: entry point " + hex(wedge.entry) + " is not in the window");
}

void wedge_link::load(guest_memory& mem) const {
    const uint64_t size = window_size - 4096;   // the last page is the wedge's mapping slot
    for (unsigned i = 0; i < wedge_.load_count; i++) {
        const boot::load_segment& s = wedge_.loads[i];
        if (s.vaddr < window || s.vaddr - window > size || s.memsz > size - (s.vaddr - window))
            throw fatal_error(exit_bad_image, "--wedge: segment at " + hex(s.vaddr) + " (+" + hex(s.memsz) + ") lies outside [" +
                                                  hex(window) + ", +" + hex(size) + ")");
        uint8_t* dst = mem.at(pa_ + (s.vaddr - window), s.memsz);
        if (!dst) throw fatal_error(exit_bad_image, "--wedge: no guest RAM at " + hex(pa_ + (s.vaddr - window)));
        std::memcpy(dst, wedge_.bytes + s.offset, s.filesz);
        std::memset(dst + s.filesz, 0, s.memsz - s.filesz);
    }
}

uint64_t wedge_link::install(guest_memory& mem, uint64_t boot_params, uint64_t guest_rsp) const {
    for (unsigned i = 0; i < guest_.load_count; i++) {
        const boot::load_segment& s = guest_.loads[i];
        if (s.vaddr != s.paddr) add_2m_mapping(mem, s.vaddr, s.paddr, s.memsz);
    }
    add_2m_mapping(mem, window, pa_, window_size);

    abi::handoff h{};
    h.magic = abi::handoff_magic;
    h.version = abi::handoff_version;
    h.boot_params = boot_params;
    h.guest_entry = guest_.entry_virt();
    // Linux: enter startup_64 at its physical address (its __startup_64 derives the load
    // address from RIP), and have the wedge map its window in level2_fixmap_pgt, the page
    // directory the kernel's own tables use for the top 2 GiB (docs/kvm-backend-notes.md).
    uint64_t fixmap_va = 0, fixmap_pa = 0;
    if (boot::symbol_value(guest_, "level2_fixmap_pgt", fixmap_va)) {
        if (!boot::virt_to_phys(guest_, fixmap_va, fixmap_pa))
            throw fatal_error(exit_bad_image, "--wedge: level2_fixmap_pgt at " + hex(fixmap_va) + " is not in a PT_LOAD");
        h.splice_pd = fixmap_pa;
        h.guest_entry = guest_.entry;
        // The code that runs at physical addresses (.head.text, merged into .text in vmlinux)
        // keeps its sites as they are: the KVM plan's rule for head code (wedge/rewrite_plan.h),
        // which the wedge applies to every user_code range.
        uint64_t head = 0, head_end = 0;
        if (!boot::linux_head_code(guest_, head, head_end))
            throw fatal_error(exit_bad_image, "--wedge: a Linux image (level2_fixmap_pgt) without startup_64/startup_64_setup_env "
                                              "symbols, or not entered at startup_64");
        h.user_code[h.user_count++] = {head, head_end - head};
    }
    h.guest_rsp = guest_rsp;
    h.wedge_pa = pa_;
    h.wedge_size = window_size;
    h.hypercall_port = abi::default_hypercall_port;
    if (guest_.note_count > abi::max_note_ranges)
        throw fatal_error(exit_bad_image, "--wedge: the guest has more than " + std::to_string(abi::max_note_ranges) + " PT_NOTE segments");
    for (unsigned i = 0; i < guest_.note_count; i++) h.notes[h.note_count++] = {guest_.notes[i].vaddr, guest_.notes[i].size};
    for (const char* name : {".user", ".head.text"}) {
        boot::virt_range r[abi::max_user_ranges];
        unsigned n = boot::sections_named(guest_, name, r, abi::max_user_ranges);
        if (h.user_count + n > abi::max_user_ranges) throw fatal_error(exit_bad_image, "--wedge: too many .user/.head.text sections");
        for (unsigned i = 0; i < n; i++) h.user_code[h.user_count++] = {r[i].vaddr, r[i].size};
    }
    uint8_t* dst = mem.at(layout::wedge_handoff, sizeof h);
    if (!dst) throw fatal_error(exit_bad_image, "--wedge: no RAM for the handoff");
    std::memcpy(dst, &h, sizeof h);
    return wedge_.entry;
}

bool wedge_link::claims(uint16_t port) const { return port == abi::default_hypercall_port; }

std::optional<std::string> wedge_link::hypercall(uint32_t request_gpa, const guest_memory& mem, console_out& console) {
    uint8_t* p = mem.at(request_gpa, sizeof(abi::request));
    if (!p) return "wedge hypercall: request at " + hex(request_gpa) + " is not in guest RAM";
    abi::request r;
    std::memcpy(&r, p, sizeof r);
    calls_[r.op]++;
    const uint64_t done = 0;
    std::memcpy(p + offsetof(abi::request, result), &done, sizeof done);
    if (r.op == static_cast<uint32_t>(abi::op::set_xcr)) {
        if (!set_xcr_) return std::string("wedge hypercall set_xcr: this launcher cannot set a vCPU's XCRs");
        const uint64_t refused = set_xcr_(r.len, r.gpa) ? 0 : 1;
        std::memcpy(p + offsetof(abi::request, result), &refused, sizeof refused);
        return std::nullopt;
    }
    if (r.op == static_cast<uint32_t>(abi::op::set_irq)) {
        if (r.len > 15 || r.gpa > 1) return "wedge hypercall set_irq: line " + std::to_string(r.len) + " level " + std::to_string(r.gpa) + " is not an ISA line and a level";
        if (set_irq_) set_irq_(r.len, r.gpa != 0);
        return std::nullopt;
    }
    const uint8_t* data = r.len ? mem.at(r.gpa, r.len) : reinterpret_cast<const uint8_t*>("");
    if (!data) return "wedge hypercall " + std::to_string(r.op) + ": [" + hex(r.gpa) + ", +" + hex(r.len) + ") is not in guest RAM";
    std::string text(reinterpret_cast<const char*>(data), r.len);
    switch (static_cast<abi::op>(r.op)) {
    case abi::op::console_write:
        console_bytes_ += r.len;
        console.console_write(text.data(), text.size());
        return std::nullopt;
    case abi::op::log:
        console.flush();
        std::fprintf(stderr, "kvm-wedge: %s\n", text.c_str());
        return std::nullopt;
    case abi::op::fatal:
        return "kvm-wedge: fatal: " + text;
    case abi::op::set_irq:
    case abi::op::set_xcr:
        break;   // handled above
    case abi::op::register_console:
        if (r.len < sizeof(abi::console_buffer)) return "wedge hypercall register_console: buffer too small";
        console_gpa_ = r.gpa;
        return std::nullopt;
    }
    return "wedge hypercall: unknown op " + std::to_string(r.op);
}

void wedge_link::drain(const guest_memory& mem, console_out& console) const {
    if (!console_gpa_) return;
    const uint8_t* p = mem.at(console_gpa_, sizeof(abi::console_buffer));
    if (!p) return;
    uint32_t len;
    std::memcpy(&len, p, 4);
    if (len > abi::console_capacity) len = abi::console_capacity;
    if (len) {
        console.console_write(reinterpret_cast<const char*>(p + 8), len);
        std::fprintf(stderr, "afterburn-kvm: drained %u console bytes the wedge had not sent\n", len);
    }
}

void wedge_link::print_stats(std::FILE* f) const {
    static const char* names[abi::op_count] = {"?", "console_write", "log", "fatal", "register_console", "set_irq", "set_xcr"};
    std::fprintf(f, "  wedge hypercalls (port 0x%04x):", abi::default_hypercall_port);
    for (auto [op, n] : calls_)
        std::fprintf(f, " %s %llu", op < abi::op_count ? names[op] : "unknown", (unsigned long long)n);
    std::fprintf(f, "; console bytes %llu\n", (unsigned long long)console_bytes_);
}

}  // namespace afterburn::kvm
