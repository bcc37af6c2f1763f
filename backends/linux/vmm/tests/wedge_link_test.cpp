// wedge_link::hypercall (the launcher's side of the KVM wedge's hypercall port) without KVM:
// requests written into guest memory as the wedge writes them, the result read back as the
// wedge reads it. set_xcr must reach the vCPU hook and report a refusal; an unknown op, a
// request outside RAM and a set_xcr no vCPU can take must end the run with a message.
#include <cstdio>
#include <cstring>
#include <string>

#include "../../wedge/kvm_wedge_abi.h"
#include "../io_devices.h"
#include "../wedge_link.h"

namespace {

namespace abi = afterburn::kvm_wedge;
using afterburn::kvm::guest_memory;
using afterburn::kvm::wedge_link;

int failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

constexpr uint64_t request_gpa = 0x10000;

abi::request call(wedge_link& link, guest_memory& mem, afterburn::kvm::console_out& console, abi::request r,
                  std::optional<std::string>& error) {
    r.result = 0x5a5a5a5a;   // the launcher must overwrite it
    std::memcpy(mem.at(request_gpa, sizeof r), &r, sizeof r);
    error = link.hypercall(request_gpa, mem, console);
    std::memcpy(&r, mem.at(request_gpa, sizeof r), sizeof r);
    return r;
}

}  // namespace

int main() {
    guest_memory mem(64ull << 20);
    afterburn::boot::elf64_image wedge{}, guest{};
    wedge.entry = wedge_link::window;
    wedge_link link(wedge, guest, mem);
    afterburn::kvm::console_out console(1);
    std::optional<std::string> error;

    abi::request xcr{static_cast<uint32_t>(abi::op::set_xcr), 0, 3, 0};
    call(link, mem, console, xcr, error);
    check(error && error->find("cannot set a vCPU's XCRs") != std::string::npos,
          "set_xcr without a vCPU to take it ends the run with a message");

    uint32_t seen_index = 99;
    uint64_t seen_value = 0;
    link.connect_xcr([&](uint32_t index, uint64_t value) {
        seen_index = index, seen_value = value;
        return value != 0x2;   // KVM refuses XCR0 without x87
    });
    abi::request r = call(link, mem, console, xcr, error);
    check(!error && seen_index == 0 && seen_value == 3, "set_xcr hands index (len) and value (gpa) to the vCPU");
    check(r.result == 0, "set_xcr reports 0 when the vCPU took the value");
    r = call(link, mem, console, {static_cast<uint32_t>(abi::op::set_xcr), 0, 2, 0}, error);
    check(!error && r.result == 1, "set_xcr reports 1 when KVM refuses the value");

    r = call(link, mem, console, {static_cast<uint32_t>(abi::op::set_irq), 4, 1, 0}, error);
    check(!error && r.result == 0, "other ops leave result 0");

    call(link, mem, console, {abi::op_count, 0, 0, 0}, error);
    check(error && error->find("unknown op") != std::string::npos, "an unknown op ends the run");
    error = link.hypercall(static_cast<uint32_t>(mem.size()), mem, console);
    check(error && error->find("not in guest RAM") != std::string::npos, "a request outside RAM ends the run");

    std::printf("%s\n", failures ? "wedge_link tests FAILED" : "wedge_link tests passed");
    return failures ? 1 : 0;
}
