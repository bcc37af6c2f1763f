// afterburn: the front door. `afterburn <verb> ...`; verbs that live in their own
// programs (boot, build-linux, cost, bench) are executed from libexec/afterburn/.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include <fstream>
#include <iterator>

#include "elf_image.h"
#include "image_rewriter.h"
#include "process.h"
#include "scanner.h"

using namespace afterburn;

namespace {

void usage(FILE *to)
{
    std::fputs("usage: afterburn <verb> [options]\n"
               "\n"
               "verbs:\n"
               "  scan PATH... [--json] [--all] account for every sensitive instruction in ELF files\n"
               "                                 (or directories of them) and check their records\n"
               "  rewrite IMAGE --backend B -o OUT\n"
               "                                 rewrite the annotated sites as backend B's wedge (xen,\n"
               "                                 kvm; l4 has a plan but no wedge yet) does at load time\n"
               "  build-linux -o DIR [...]      build Debian's Linux 6.1 with the afterburner toolchain\n"
               "  boot --on BACKEND IMAGE [...] boot an image natively (QEMU) or through a wedge (kvm,\n"
               "                                 xen; also xen-dom0, xenolinux) and wait for its verdict\n"
               "  cost [--json]                 the engineering-cost table: guest lines changed (0), code\n"
               "                                 lines of afterburn's parts against Linux's Xen PV code\n"
               "  bench [--json] [--runs N]     instructions per Linux operation: stock and afterburnt\n"
               "                                 kernel natively, afterburnt on Xen, XenoLinux on Xen\n"
               "  help [VERB]                   this text, or a verb's own help\n"
               "\n"
               "The toolchain itself is afterburn-cc (a gcc drop-in) and afterburn-as.\n",
               to);
}

// The ELF files a scan argument names: the file itself, or every ELF file under a directory
// (recursively, sorted, so the report is stable). Returns false with `error` set when there
// is nothing to scan.
bool scan_inputs(const std::string &arg, std::vector<std::string> &files, std::string &error)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
        files.push_back(arg);  // elf_image::load says what is wrong with it, if anything
        return true;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        std::ifstream in(it->path(), std::ios::binary);
        char magic[4] = {};
        if (in.read(magic, 4) && std::memcmp(magic, "\177ELF", 4) == 0) found.push_back(it->path().string());
    }
    if (ec) {
        error = arg + ": " + ec.message();
        return false;
    }
    if (found.empty()) {
        error = arg + ": a directory without ELF files";
        return false;
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
    return true;
}

int scan_main(int argc, char **argv)
{
    bool json = false, all = false;
    std::vector<std::string> args;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--json") json = true;
        else if (a == "--all") all = true;
        else if (a == "-h" || a == "--help") {
            std::puts("usage: afterburn scan PATH... [--json] [--all]\n\n"
                      "Disassembles every executable section of each ELF file (vmlinux, a module, an\n"
                      "object, a sample guest; a directory stands for every ELF file under it), finds\n"
                      "every sensitive instruction, matches it to its annotation record and validates\n"
                      "every record (the field rules of docs/annotation-format.md, points into code,\n"
                      "lengths match the bytes, decoded operands match, padding is NOPs, no overlaps);\n"
                      "a bad record is named as .notes+0xOFF (site SYMBOL+0xOFF). Instructions that are\n"
                      "never annotated because CPUID gates them (vmcall, monitorx, tpause, ...) are\n"
                      "explained only if the wedge's CPUID policy really hides their feature. Every\n"
                      "sensitive instruction is also re-decoded with the wedge's own decoder, which must\n"
                      "agree with LLVM. One file: a per-class table, or with --json one object. Several:\n"
                      "one line per file, then the table of the total (the failing files' details with\n"
                      "it); --json gives {\"images\": [one object per file], \"total\": {...}}.\n"
                      "Exit status: 0 all clean, 1 unexplained sites, bad records or decoder\n"
                      "disagreements, 2 an unusable input (the others are still scanned).");
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "afterburn scan: unknown option %s\n", a.c_str());
            return 2;
        } else args.push_back(a);
    }
    if (args.empty()) {
        std::fputs("afterburn scan: missing PATH (see afterburn scan --help)\n", stderr);
        return 2;
    }
    std::vector<std::string> files;
    bool unusable = false;
    for (const auto &a : args) {
        std::string error;
        if (!scan_inputs(a, files, error)) {
            std::fprintf(stderr, "afterburn scan: %s\n", error.c_str());
            unusable = true;
        }
    }
    bool several = files.size() > 1 || args.size() > 1 || (args.size() == 1 && files.size() == 1 && files[0] != args[0]);
    scan_report total;
    total.image = std::to_string(files.size()) + " files";
    std::vector<scan_report> failed;
    std::string images_json;
    unsigned scanned = 0;
    for (const auto &file : files) {
        std::string error;
        auto img = elf_image::load(file, error);
        if (!img) {
            std::fprintf(stderr, "afterburn scan: %s\n", error.c_str());
            unusable = true;
            continue;
        }
        scan_report r = scan_image(*img);
        scanned++;
        if (!several) {
            std::string out = json ? format_json(r) : format_table(r, all ? ~0u : 40);
            std::fwrite(out.data(), 1, out.size(), stdout);
        } else if (json) {
            images_json += (images_json.empty() ? "" : ", ") + format_json(r);
            images_json.pop_back();  // format_json ends the object with a newline
        } else {
            std::printf("  %-6s %s: %u sensitive (%u annotated, %u explained, %u unexplained), %u records, %u bad\n",
                        r.clean() ? "OK" : "FAILED", file.c_str(), r.all.total, r.all.annotated, r.all.explained,
                        r.all.unexplained, r.records, r.bad_records);
            std::fflush(stdout);  // progress: a kernel's modules take a while
        }
        if (json && !r.clean()) {
            for (const auto &f : r.unexplained)
                std::fprintf(stderr, "unexplained: %s: 0x%llx %s: %s\n", file.c_str(),
                             static_cast<unsigned long long>(f.addr), f.where.c_str(), f.text.c_str());
            for (const auto &b : r.bad) std::fprintf(stderr, "bad: %s: %s\n", file.c_str(), b.c_str());
        }
        if (!r.clean() && several && !json) failed.push_back(r);
        add_to_total(total, r);
    }
    if (several && json) {
        std::string t = format_json(total);
        std::printf("{\"images\": [%s], \"total\": %s}\n", images_json.c_str(), t.substr(0, t.size() - 1).c_str());
    } else if (several) {
        for (const auto &r : failed) {
            std::string out = format_table(r, all ? ~0u : 40);
            std::printf("\n%s", out.c_str());
        }
        std::printf("\ntotal over %u files:\n", scanned);
        std::string out = format_table(total, all ? ~0u : 40);
        std::fwrite(out.data(), 1, out.size(), stdout);
    }
    if (unusable) return 2;
    return total.clean() ? 0 : 1;
}

int rewrite_main(int argc, char **argv)
{
    std::string image, backend, out, pt_sites = "native";
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::puts("usage: afterburn rewrite IMAGE --backend xen|kvm|l4 [--pt-sites native|stores|wedge] -o OUT\n\n"
                      "Rewrites the annotated sites of IMAGE exactly as backend B's wedge does at load\n"
                      "time, with the wedge's own site table and rewrite plan (docs/wedge-abi.md):\n"
                      "  xen, l4  every kind but int $n: cli becomes a store to the vCPU's virtual IF,\n"
                      "           the others a call into the wedge's entry window (sites in\n"
                      "           .altinstr_replacement an indirect call through its slot table);\n"
                      "           xen also puts int3 on the ring-3 (.user) sites that read\n"
                      "           Xen's selectors or descriptor tables\n"
                      "  kvm      port I/O (in, out, ins, outs), CR3 loads, CR8 writes, rdmsr/wrmsr\n"
                      "--pt-sites wedge (xen): also every page-table access (page_table_store/_load)\n"
                      "becomes a call into the wedge, as `afterburn boot --on xen --pt-sites wedge`\n"
                      "does; stores: only the page_table_store sites, as `afterburn boot --on xen`\n"
                      "does by default; a page-table site the wedge could not perform is named (exit\n"
                      "status 1). The default here is native.\n"
                      "Writes the result to OUT and prints the digest of the sites' bytes that the\n"
                      "wedge prints after rewriting. A record the wedge or `afterburn scan` would\n"
                      "refuse, or a site that cannot be fitted, is named and makes the exit status 1;\n"
                      "nothing is skipped silently. The output runs only under that wedge.");
            return 0;
        }
        if ((a == "--backend" || a == "-o" || a == "--pt-sites") && i + 1 < argc) {
            (a == "-o" ? out : a == "--pt-sites" ? pt_sites : backend) = argv[++i];
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "afterburn rewrite: unknown option %s\n", a.c_str());
            return 2;
        } else if (image.empty()) {
            image = a;
        } else {
            std::fprintf(stderr, "afterburn rewrite: one image at a time\n");
            return 2;
        }
    }
    if (image.empty() || backend.empty() || out.empty()) {
        std::fputs("afterburn rewrite: need IMAGE, --backend and -o (see afterburn rewrite --help)\n", stderr);
        return 2;
    }
    wedge::backend_id id;
    if (!wedge::backend_by_name(backend.c_str(), id)) {
        std::fprintf(stderr, "afterburn rewrite: unknown backend '%s' (xen, kvm, l4)\n", backend.c_str());
        return 2;
    }
    wedge::page_table_sites pt;
    if (!wedge::page_table_sites_by_name(pt_sites.c_str(), pt) ||
        (pt != wedge::page_table_sites::native && !wedge::performs_page_table_sites(id))) {
        std::fprintf(stderr, "afterburn rewrite: --pt-sites is native or (for xen) stores or wedge, not '%s' for %s\n",
                     pt_sites.c_str(), backend.c_str());
        return 2;
    }
    std::string error;
    auto img = elf_image::load(image, error);
    if (!img) {
        std::fprintf(stderr, "afterburn rewrite: %s\n", error.c_str());
        return 2;
    }
    std::ifstream in(image, std::ios::binary);
    std::vector<uint8_t> file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    rewrite_report r = rewrite_image(*img, file, wedge::plan_for(id, pt));
    const wedge::rewrite_counts &c = r.counts;
    std::printf("afterburn rewrite: %s for %s: %u sites: %u rewritten, %u left by the plan, %u left in ring-3 code "
                "(%u of them trap with int3), %u left in .altinstr_replacement, %zu failed\n",
                image.c_str(), backend.c_str(), r.sites, c.rewritten, c.by_plan, c.user, c.user_int3, c.replacement,
                r.failures.size());
    for (unsigned k = 0; k < site_kind_count; ++k)
        if (c.by_kind[k]) std::printf("  %-14s %u\n", site_kind_name(static_cast<site_kind>(k)), c.by_kind[k]);
    std::printf("afterburn rewrite: sites digest 0x%016llx (fnv1a64 over %u sites)\n",
                static_cast<unsigned long long>(r.digest), r.sites);
    for (const auto &f : r.failures) std::fprintf(stderr, "  cannot rewrite %s\n", f.c_str());
    std::ofstream o(out, std::ios::binary);
    o.write(reinterpret_cast<const char *>(file.data()), static_cast<std::streamsize>(file.size()));
    if (!o) {
        std::fprintf(stderr, "afterburn rewrite: cannot write %s\n", out.c_str());
        return 2;
    }
    return r.failures.empty() ? 0 : 1;
}

int exec_helper(const std::string &verb, int argc, char **argv)
{
    std::string self = self_path();
    std::string helper = self.substr(0, self.rfind('/')) + "/../libexec/afterburn/" + verb;
    if (access(helper.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "afterburn: %s is not installed (%s missing)\n", verb.c_str(), helper.c_str());
        return 2;
    }
    std::vector<std::string> args{helper};
    for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
    exec_program(args);
    std::perror(("afterburn: cannot run " + helper).c_str());
    return 127;
}

} // namespace

int main(int argc, char **argv)
{
    ensure_standard_fds();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::string verb = argv[1];
    if (verb == "-h" || verb == "--help") {
        usage(stdout);
        return 0;
    }
    if (verb == "help") {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        char help[] = "--help";
        char *args[] = {help};
        std::string sub = argv[2];
        if (sub == "scan") return scan_main(1, args);
        if (sub == "rewrite") return rewrite_main(1, args);
        return exec_helper(sub, 1, args);
    }
    if (verb == "scan") return scan_main(argc - 2, argv + 2);
    if (verb == "rewrite") return rewrite_main(argc - 2, argv + 2);
    if (verb == "boot" || verb == "build-linux" || verb == "cost" || verb == "bench")
        return exec_helper(verb, argc - 2, argv + 2);
    std::fprintf(stderr, "afterburn: unknown verb '%s'\n\n", verb.c_str());
    usage(stderr);
    return 2;
}
