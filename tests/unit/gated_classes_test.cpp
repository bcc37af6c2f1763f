// The CPUID-gated classes (gated_class.h): the wedge's decoder names each form with its
// length and leaves look-alikes alone, and the scanner's gate check really consults the
// wedge's CPUID policy (a feature it passes through is reported as visible).
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "afterburn/gated_class.h"
#include "afterburn/sensitive_decoder.h"
#include "gate_check.h"

using namespace afterburn;

namespace {

struct form {
    const char *text;
    std::vector<uint8_t> bytes;
    gated_class cls;  // count: not gated
};

const std::vector<form> forms = {
    {"vmcall", {0x0f, 0x01, 0xc1}, gated_class::vmcall},
    {"vmmcall", {0x0f, 0x01, 0xd9}, gated_class::vmmcall},
    {"vmgexit (rep vmmcall)", {0xf3, 0x0f, 0x01, 0xd9}, gated_class::vmmcall},
    {"vmlaunch", {0x0f, 0x01, 0xc2}, gated_class::vmx},
    {"vmxon (%rax)", {0xf3, 0x0f, 0xc7, 0x30}, gated_class::vmx},
    {"vmclear (%rax)", {0x66, 0x0f, 0xc7, 0x30}, gated_class::vmx},
    {"vmptrst 8(%rax)", {0x0f, 0xc7, 0x78, 0x08}, gated_class::vmx},
    {"vmread %rax, %rbx", {0x0f, 0x78, 0xc3}, gated_class::vmx},
    {"invept (%rax), %rbx", {0x66, 0x0f, 0x38, 0x80, 0x18}, gated_class::vmx},
    {"vmrun", {0x0f, 0x01, 0xd8}, gated_class::svm},
    {"stgi", {0x0f, 0x01, 0xdc}, gated_class::svm},
    {"monitorx", {0x0f, 0x01, 0xfa}, gated_class::monitorx},
    {"mwaitx", {0x0f, 0x01, 0xfb}, gated_class::mwaitx},
    {"umonitor %rax", {0xf3, 0x0f, 0xae, 0xf0}, gated_class::umonitor},
    {"umwait %eax", {0xf2, 0x0f, 0xae, 0xf0}, gated_class::umwait},
    {"tpause %eax", {0x66, 0x0f, 0xae, 0xf0}, gated_class::tpause},
    {"encls", {0x0f, 0x01, 0xcf}, gated_class::sgx},
    {"incsspq %rax", {0xf3, 0x48, 0x0f, 0xae, 0xe8}, gated_class::cet_ss},
    {"rdsspq %rax", {0xf3, 0x48, 0x0f, 0x1e, 0xc8}, gated_class::cet_ss},
    {"wrssq %rax, (%rbx)", {0x48, 0x0f, 0x38, 0xf6, 0x03}, gated_class::cet_ss},
    {"clrssbsy (%rax)", {0xf3, 0x0f, 0xae, 0x30}, gated_class::cet_ss},
    {"wbnoinvd", {0xf3, 0x0f, 0x09}, gated_class::wbnoinvd},
    {"invlpgb", {0x0f, 0x01, 0xfe}, gated_class::invlpgb},
    {"tlbsync", {0x0f, 0x01, 0xff}, gated_class::tlbsync},
    {"rdpru", {0x0f, 0x01, 0xfd}, gated_class::rdpru},
    {"pconfig", {0x0f, 0x01, 0xc5}, gated_class::pconfig},
    {"ptwritel (%rax)", {0xf3, 0x0f, 0xae, 0x20}, gated_class::ptwrite},
    {"enqcmds (%rax), %rbx", {0xf3, 0x0f, 0x38, 0xf8, 0x18}, gated_class::enqcmd},
    {"clui", {0xf3, 0x0f, 0x01, 0xee}, gated_class::uintr},
    {"senduipi %rax", {0xf3, 0x0f, 0xc7, 0xf0}, gated_class::uintr},
    {"loadiwkey %xmm1, %xmm2", {0xf3, 0x0f, 0x38, 0xdc, 0xd1}, gated_class::loadiwkey},
    {"hreset $1", {0xf3, 0x0f, 0x3a, 0xf0, 0xc0, 0x01}, gated_class::hreset},
    {"xsusldtrk", {0xf2, 0x0f, 0x01, 0xe8}, gated_class::tsxldtrk},
    {"pvalidate", {0xf2, 0x0f, 0x01, 0xff}, gated_class::sev_snp},
    {"tdcall", {0x66, 0x0f, 0x01, 0xcc}, gated_class::tdx},
    {"rdrand %rax", {0x48, 0x0f, 0xc7, 0xf0}, gated_class::rdrand},
    {"rdseed %eax", {0x0f, 0xc7, 0xf8}, gated_class::rdseed},
    // Look-alikes: same opcode bytes, another prefix or ModRM.
    {"serialize", {0x0f, 0x01, 0xe8}, gated_class::count},
    {"mfence", {0x0f, 0xae, 0xf0}, gated_class::count},
    {"endbr64", {0xf3, 0x0f, 0x1e, 0xfa}, gated_class::count},
    {"extrq $1, $2, %xmm1", {0x66, 0x0f, 0x78, 0xc1, 0x01, 0x02}, gated_class::count},
    {"xsaveopt (%rdi)", {0x0f, 0xae, 0x37}, gated_class::count},
    {"clwb (%rdi)", {0x66, 0x0f, 0xae, 0x37}, gated_class::count},
    {"rdpid %rax", {0xf3, 0x0f, 0xc7, 0xf8}, gated_class::count},
    {"rdpkru", {0x0f, 0x01, 0xee}, gated_class::count},
    {"wbinvd", {0x0f, 0x09}, gated_class::count},
};

} // namespace

TEST_CASE("the wedge's decoder names every CPUID-gated form and leaves look-alikes alone")
{
    for (const auto &f : forms) {
        INFO(f.text);
        gated_class got = gated_class::count;
        uint8_t len = 0;
        bool gated = decoder::decode_gated(f.bytes.data(), f.bytes.size(), got, len);
        CHECK(gated == (f.cls != gated_class::count));
        if (!gated) continue;
        CHECK(std::string(gated_class_name(got)) == gated_class_name(f.cls));
        CHECK(len == f.bytes.size());
        // A gated form is never also an annotatable kind (clui is not rdpkru, wbnoinvd not wbinvd).
        decoder::decoded d;
        CHECK_FALSE(decoder::decode_sensitive(f.bytes.data(), f.bytes.size(), d));
    }
}

TEST_CASE("a truncated gated instruction is not decoded")
{
    const uint8_t vmxon[] = {0xf3, 0x0f, 0xc7, 0x30};
    gated_class got;
    uint8_t len;
    for (size_t n = 0; n < sizeof vmxon; ++n) CHECK_FALSE(decoder::decode_gated(vmxon, n, got, len));
}

TEST_CASE("gates are checked against the wedge's CPUID policy")
{
    for (unsigned i = 0; i < gated_class_count; ++i) {
        auto c = static_cast<gated_class>(i);
        INFO(gated_class_name(c));
        gate_verdict v = check_gate(c);
        CHECK(v.explained);
        if (gated_class_of(c)->privileged) CHECK(v.reason.find("hidden by the wedge's CPUID policy") != std::string::npos);
    }
    // The policy passes RDRAND and RDSEED through: the check sees them, so it can see a gate.
    CHECK(check_gate(gated_class::rdrand).reason.find("passed through") != std::string::npos);
    CHECK(check_gate(gated_class::rdseed).reason.find("passed through") != std::string::npos);
}

TEST_CASE("the format document lists every CPUID-gated class")
{
    std::ifstream doc(AFTERBURN_SOURCE_DIR "/docs/annotation-format.md");
    REQUIRE(doc);
    std::string line;
    std::vector<std::string> rows;  // "| `vmcall` | vmcall | GATE |" -> "vmcall\tGATE"
    bool in_section = false;
    while (std::getline(doc, line)) {
        if (line.rfind("## ", 0) == 0) in_section = line.find("CPUID-gated classes") != std::string::npos;
        if (!in_section || line.rfind("| `", 0) != 0) continue;
        size_t name_end = line.find('`', 3);
        size_t gate_at = line.rfind(" | ");
        if (name_end == std::string::npos || gate_at == std::string::npos || line.size() < gate_at + 5) continue;
        std::string gate = line.substr(gate_at + 3, line.size() - gate_at - 5);
        rows.push_back(line.substr(3, name_end - 3) + "\t" + gate.substr(0, gate.find(" (passed")));
    }
    std::vector<std::string> want;
    for (const auto &g : gated_classes) want.push_back(std::string(g.name) + "\t" + g.gate.name);
    CHECK(rows == want);
}
