#include "scanner.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "afterburn/record_check.h"
#include "annotation_tables.h"
#include "gate_check.h"
#include "site_classifier.h"
#include "x86_toolkit.h"

namespace afterburn {

namespace {

std::string json_string(const std::string &v)
{
    std::string o = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') o += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
            continue;
        }
        o += c;
    }
    return o + "\"";
}

std::string hex(uint64_t v)
{
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

struct region_span {
    uint64_t begin, end;
    bool bits16;
};

// Checks one instruction record against the image; returns an empty string when it is good.
std::string check_record(const elf_image &img, const located_record &lr, const x86_toolkit &tk)
{
    const auto &rec = lr.record;
    if (std::string problem = record_problem(img, lr); !problem.empty()) return problem;
    auto kind = static_cast<site_kind>(rec.kind);
    // An empty region (a .code32 directly followed by a section switch) covers nothing.
    if ((kind == site_kind::code16_region || kind == site_kind::code32_region) && rec.imm == 0) return {};
    const elf_section *sec = img.section_at(lr.site);
    if (!sec || !sec->executable()) return "site " + hex(lr.site) + " is not inside an executable section";
    uint64_t off = lr.site - sec->addr;
    if (kind == site_kind::code16_region || kind == site_kind::code32_region) {
        if (rec.imm < 0 || off + static_cast<uint64_t>(rec.imm) > sec->size)
            return "region length " + std::to_string(rec.imm) + " runs past the end of " + sec->name;
        return {};
    }
    uint64_t before = (rec.flags & annotation::flag_pad_before) ? rec.pad_len : 0;
    if (off < before || off + rec.insn_len + rec.pad_len - before > sec->data.size())
        return "site and padding run past the end of " + sec->name;
    llvm::MCInst inst;
    if (rec.insn_len) {
        std::span<const uint8_t> bytes(sec->data.data() + off, rec.insn_len);
        unsigned n = site_kind_is_page_table(kind) ? decode_page_table_site(bytes, tk, inst)
                                                   : tk.decode(bytes, code_mode::bits64, inst);
        if (n != rec.insn_len)
            return "insn_len " + std::to_string(rec.insn_len) + " does not match the instruction at the site";
        site_description d;
        if (site_kind_is_page_table(kind)) {
            // Chosen by C type: the bytes must be an access the record can describe, as described.
            const char *why = "";
            if (!describe_page_table_access(inst, bytes, tk, kind, d, why))
                return std::string("kind ") + site_kind_name(kind) + " but " + why + " (" +
                       tk.print(inst, code_mode::bits64) + ")";
        } else {
            d = describe_instruction(inst, bytes, tk);
        }
        if (kind != d.kind)
            return std::string("kind ") + site_kind_name(kind) + " but the site holds " +
                   (d.kind == site_kind::none ? std::string("a non-sensitive instruction") : site_kind_name(d.kind));
        if (kind != site_kind::none)
            if (const char *field = first_difference(d, rec))
                return std::string("field ") + field + " does not match the instruction (" +
                       tk.print(inst, code_mode::bits64) + ")";
        if (auto e = annotation::check_padding_prefixes(rec, bytes.data()); e != annotation::padding_error::ok)
            return std::string(annotation::padding_error_text(e)) + " (" + tk.print(inst, code_mode::bits64) + ")";
    } else if (kind != site_kind::none) {
        return "zero-length instruction site";
    }
    // The padding must be exactly NOPs.
    uint64_t p = before ? off - before : off + rec.insn_len;
    uint64_t end = before ? off : off + rec.insn_len + rec.pad_len;
    while (p < end) {
        std::span<const uint8_t> bytes(sec->data.data() + p, end - p);
        unsigned n = tk.decode(bytes, code_mode::bits64, inst);
        if (!n || !is_nop_opcode(tk.opcode_name(inst))) return "padding at " + hex(sec->addr + p) + " is not NOPs";
        p += n;
    }
    return {};
}

// A CPUID-gated instruction: explained when its gate checks out against the wedge's policy.
void count_gated(scan_report &r, const elf_image &img, const elf_section &sec, uint64_t a, gated_class g,
                 const std::string &text)
{
    auto &c = r.gated[static_cast<unsigned>(g)];
    c.total++;
    r.all.total++;
    gate_verdict v = check_gate(g);
    if (v.explained) {
        c.explained++;
        r.all.explained++;
        r.explained_reasons[std::string(gated_class_name(g)) + ": " + v.reason]++;
        return;
    }
    c.unexplained++;
    r.all.unexplained++;
    scan_finding f;
    f.addr = a;
    f.gated = g;
    f.where = img.describe(a) + " in " + sec.name;
    f.text = text;
    f.reason = v.reason;
    r.unexplained.push_back(std::move(f));
}

} // namespace

const char *finding_class(const scan_finding &f)
{
    return f.gated != gated_class::count ? gated_class_name(f.gated) : site_kind_name(f.kind);
}

void add_to_total(scan_report &total, const scan_report &one)
{
    auto add = [](class_counts &t, const class_counts &o) {
        t.total += o.total;
        t.annotated += o.annotated;
        t.explained += o.explained;
        t.unexplained += o.unexplained;
    };
    for (unsigned k = 0; k < site_kind_count; ++k) add(total.classes[k], one.classes[k]);
    for (unsigned k = 0; k < gated_class_count; ++k) add(total.gated[k], one.gated[k]);
    add(total.all, one.all);
    total.tables += one.tables;
    total.records += one.records;
    total.regions += one.regions;
    total.bad_records += one.bad_records;
    total.decoder_checked += one.decoder_checked;
    for (const auto &d : one.decoder_disagreements) total.decoder_disagreements.push_back(one.image + ": " + d);
    for (auto f : one.unexplained) {
        f.where = one.image + ": " + f.where;
        total.unexplained.push_back(std::move(f));
    }
    for (const auto &b : one.bad) total.bad.push_back(one.image + ": " + b);
    for (const auto &[why, n] : one.explained_reasons) total.explained_reasons[why] += n;
}

scan_report scan_image(const elf_image &img)
{
    const x86_toolkit &tk = x86_toolkit::get();
    scan_report r;
    r.image = img.path();
    auto tables = read_annotation_tables(img);
    r.tables = tables.tables;
    r.records = static_cast<unsigned>(tables.records.size());
    for (const auto &e : tables.errors) {
        r.bad.push_back("malformed annotation table " + e);
        r.bad_records++;
    }

    // Validate records and index the good ones by site.
    std::map<uint64_t, const located_record *> by_site;
    std::vector<region_span> regions;
    std::vector<std::pair<uint64_t, uint64_t>> spans;  // [site, site+len+pad) of instruction records
    for (const auto &lr : tables.records) {
        std::string problem = check_record(img, lr, tk);
        std::string name = lr.note->name + "+" + hex(lr.note_offset);
        if (!problem.empty()) {
            r.bad.push_back(record_name(img, lr) + ": " + problem);
            r.bad_records++;
            continue;
        }
        auto kind = static_cast<site_kind>(lr.record.kind);
        if (kind == site_kind::code16_region || kind == site_kind::code32_region) {
            regions.push_back({lr.site, lr.site + static_cast<uint64_t>(lr.record.imm), kind == site_kind::code16_region});
            r.regions++;
            continue;
        }
        if (site_kind_is_page_table(kind)) {
            // Not sensitive by opcode, so the sweep below never meets them: a good record is
            // the whole account (the compiler pass's cross-check, tests/page_table, covers misses).
            auto &c = r.classes[static_cast<unsigned>(kind)];
            c.total++;
            c.annotated++;
            r.all.total++;
            r.all.annotated++;
        }
        uint64_t before = (lr.record.flags & annotation::flag_pad_before) ? lr.record.pad_len : 0;
        spans.push_back({lr.site - before, lr.site - before + lr.record.insn_len + lr.record.pad_len});
        if (!by_site.emplace(lr.site, &lr).second) {
            r.bad.push_back("record " + name + ": a second record for site " + img.describe(lr.site));
            r.bad_records++;
        }
    }
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i)
        if (spans[i].first < spans[i - 1].second) {
            r.bad.push_back("records overlap at " + img.describe(spans[i].first));
            r.bad_records++;
        }

    // Linear sweep of every executable section, resynchronised at each symbol like objdump.
    for (const auto &sec : img.sections()) {
        if (!sec.executable() || sec.type == 8 /* NOBITS */ || sec.data.empty()) continue;
        std::set<uint64_t> syncs{sec.addr};
        for (const auto &s : img.symbols())
            if (s.section == sec.index && sec.contains(s.addr)) syncs.insert(s.addr);
        syncs.insert(sec.addr + sec.data.size());
        for (auto it = syncs.begin(); std::next(it) != syncs.end(); ++it) {
            uint64_t a = *it, stop = *std::next(it);
            while (a < stop) {
                llvm::MCInst inst;
                uint64_t off = a - sec.addr;
                std::span<const uint8_t> bytes(sec.data.data() + off, sec.data.size() - off);
                unsigned n = tk.decode(bytes, code_mode::bits64, inst);
                gated_class gated = gated_class::count;
                uint8_t gated_len = 0;
                if (!n) {
                    // A gated instruction LLVM 14 cannot decode (rdpru): the wedge's decoder knows it.
                    if (decoder::decode_gated(bytes.data(), bytes.size(), gated, gated_len)) {
                        count_gated(r, img, sec, a, gated, "(" + std::string(gated_class_name(gated)) + ")");
                        a += gated_len;
                    } else {
                        ++a;
                    }
                    continue;
                }
                site_kind kind = kind_of_opcode(tk.opcode_name(inst));
                if (kind == site_kind::none) gated = gated_of_opcode(tk.opcode_name(inst));
                if (gated != gated_class::count) {
                    // The wedge's decoder must name the same class with the same length.
                    r.decoder_checked++;
                    gated_class w = gated_class::count;
                    if (!decoder::decode_gated(bytes.data(), n, w, gated_len) || w != gated || gated_len != n)
                        r.decoder_disagreements.push_back(img.describe(a) + ": " + tk.print(inst, code_mode::bits64) +
                                                          ": gated class");
                    count_gated(r, img, sec, a, gated, tk.print(inst, code_mode::bits64));
                } else if (kind != site_kind::none) {
                    // The wedge's own decoder must see exactly what LLVM sees.
                    site_description d = describe_instruction(inst, bytes.first(n), tk);
                    r.decoder_checked++;
                    if (const char *field = decoder_disagreement(d, bytes.first(n)))
                        r.decoder_disagreements.push_back(img.describe(a) + ": " + tk.print(inst, code_mode::bits64) +
                                                          ": field " + field);
                    auto &c = r.classes[static_cast<unsigned>(kind)];
                    c.total++;
                    r.all.total++;
                    auto rec = by_site.find(a);
                    const region_span *region = nullptr;
                    for (const auto &rg : regions)
                        if (a >= rg.begin && a < rg.end) region = &rg;
                    if (rec != by_site.end() && rec->second->record.kind == static_cast<uint8_t>(kind)) {
                        c.annotated++;
                        r.all.annotated++;
                    } else if (region) {
                        c.explained++;
                        r.all.explained++;
                        r.explained_reasons[region->bits16 ? "16-bit code (.code16 region)" : "32-bit code (.code32 region)"]++;
                    } else {
                        c.unexplained++;
                        r.all.unexplained++;
                        scan_finding f;
                        f.addr = a;
                        f.kind = kind;
                        f.where = img.describe(a) + " in " + sec.name;
                        f.text = tk.print(inst, code_mode::bits64);
                        f.reason = rec != by_site.end() ? "record names a different kind" : "no annotation record";
                        r.unexplained.push_back(std::move(f));
                    }
                }
                a += n;
            }
        }
    }
    return r;
}

std::string format_table(const scan_report &r, unsigned max_listed)
{
    std::ostringstream o;
    char line[160];
    o << "afterburn scan: " << r.image << "\n";
    o << "  " << r.tables << " annotation tables, " << r.records << " records (" << r.regions
      << " 16/32-bit regions)\n\n";
    std::snprintf(line, sizeof line, "  %-16s %8s %10s %10s %12s\n", "class", "total", "annotated", "explained",
                  "unexplained");
    o << line;
    for (unsigned k = 0; k < site_kind_count; ++k) {
        const auto &c = r.classes[k];
        if (!c.total) continue;
        std::snprintf(line, sizeof line, "  %-16s %8u %10u %10u %12u\n", site_kind_name(static_cast<site_kind>(k)),
                      c.total, c.annotated, c.explained, c.unexplained);
        o << line;
    }
    for (unsigned k = 0; k < gated_class_count; ++k) {
        const auto &c = r.gated[k];
        if (!c.total) continue;
        std::snprintf(line, sizeof line, "  %-16s %8u %10u %10u %12u   (CPUID-gated)\n",
                      gated_class_name(static_cast<gated_class>(k)), c.total, c.annotated, c.explained, c.unexplained);
        o << line;
    }
    std::snprintf(line, sizeof line, "  %-16s %8u %10u %10u %12u\n", "all", r.all.total, r.all.annotated,
                  r.all.explained, r.all.unexplained);
    o << line;
    if (!r.explained_reasons.empty()) {
        o << "\nexplained:\n";
        for (const auto &[why, n] : r.explained_reasons) o << "  " << n << "  " << why << "\n";
    }
    if (!r.unexplained.empty()) {
        o << "\nunexplained sensitive instructions:\n";
        unsigned shown = 0;
        for (const auto &f : r.unexplained) {
            if (shown++ == max_listed) {
                o << "  ... and " << (r.unexplained.size() - max_listed) << " more (use --all)\n";
                break;
            }
            std::snprintf(line, sizeof line, "  0x%llx  ", static_cast<unsigned long long>(f.addr));
            o << line << f.where << ": " << f.text << " [" << finding_class(f) << "] (" << f.reason << ")\n";
        }
    }
    if (!r.decoder_disagreements.empty()) {
        o << "\nthe wedge's decoder disagrees with LLVM:\n";
        unsigned shown = 0;
        for (const auto &b : r.decoder_disagreements)
            if (shown++ < max_listed) o << "  " << b << "\n";
    }
    if (!r.bad.empty()) {
        o << "\nbad records:\n";
        unsigned shown = 0;
        for (const auto &b : r.bad) {
            if (shown++ == max_listed) {
                o << "  ... and " << (r.bad.size() - max_listed) << " more (use --all)\n";
                break;
            }
            o << "  " << b << "\n";
        }
    }
    o << "\nwedge decoder cross-check: " << r.decoder_checked << " instructions, "
      << r.decoder_disagreements.size() << " disagreements\n";
    o << "\n" << (r.clean() ? "OK: every sensitive instruction is annotated or explained\n"
                            : "FAILED: " + std::to_string(r.all.unexplained) + " unexplained sites, " +
                                  std::to_string(r.bad_records) + " bad records, " +
                                  std::to_string(r.decoder_disagreements.size()) + " decoder disagreements\n");
    return o.str();
}

std::string format_json(const scan_report &r)
{
    std::ostringstream o;
    auto counts = [&](const class_counts &c) {
        o << "{\"total\": " << c.total << ", \"annotated\": " << c.annotated << ", \"explained\": " << c.explained
          << ", \"unexplained\": " << c.unexplained << "}";
    };
    o << "{\"image\": " << json_string(r.image) << ", \"total\": " << r.all.total << ", \"annotated\": " << r.all.annotated << ", \"explained\": "
      << r.all.explained << ", \"unexplained\": " << r.all.unexplained << ", \"bad_records\": " << r.bad_records
      << ", \"records\": " << r.records << ", \"regions\": " << r.regions
      << ", \"decoder_disagreements\": " << r.decoder_disagreements.size() << ", \"classes\": {";
    bool first = true;
    for (unsigned k = 0; k < site_kind_count; ++k) {
        auto kind = static_cast<site_kind>(k);
        if (!site_kind_is_instruction(kind)) continue;
        o << (first ? "" : ", ") << "\"" << site_kind_name(kind) << "\": ";
        counts(r.classes[k]);
        first = false;
    }
    for (unsigned k = 0; k < gated_class_count; ++k) {
        o << ", \"" << gated_class_name(static_cast<gated_class>(k)) << "\": ";
        counts(r.gated[k]);
    }
    o << "}, \"gated_classes\": [";
    for (unsigned k = 0; k < gated_class_count; ++k)
        o << (k ? ", " : "") << "\"" << gated_class_name(static_cast<gated_class>(k)) << "\"";
    o << "], \"explained_reasons\": {";
    first = true;
    for (const auto &[why, n] : r.explained_reasons) {
        o << (first ? "" : ", ") << json_string(why) << ": " << n;
        first = false;
    }
    o << "}}\n";
    return o.str();
}

} // namespace afterburn
