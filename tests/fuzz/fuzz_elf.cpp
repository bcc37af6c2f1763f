// libFuzzer: the host ELF reader (afterburner/lib/elf_image.cpp) and everything `afterburn
// scan` and `afterburn rewrite` do with what it returns: read the annotation tables, check
// every record, sweep the executable sections, rewrite the sites. Any input must end (the
// -timeout of the run catches a hang), without a sanitizer report.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "annotation_tables.h"
#include "elf_image.h"
#include "image_rewriter.h"
#include "scanner.h"

using namespace afterburn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std::string error;
    std::vector<uint8_t> file(data, data + size);
    auto img = elf_image::parse(std::string_view(reinterpret_cast<const char *>(file.data()), file.size()),
                                "fuzz.elf", error);
    if (!img) return 0;
    for (const auto &s : img->sections())
        if (s.addr + s.size < s.addr && (s.allocated() || s.executable())) __builtin_trap();  // must be refused
    auto tables = read_annotation_tables(*img);
    for (const auto &lr : tables.records) (void)record_problem(*img, lr);
    scan_report r = scan_image(*img);
    (void)format_table(r, 10);
    for (auto b : {wedge::backend_id::xen, wedge::backend_id::kvm}) {
        std::vector<uint8_t> copy = file;
        rewrite_image(*img, copy, wedge::plan_for(b));
    }
    return 0;
}
