#include "object_annotator.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "afterburn/record_check.h"
#include "annotation_tables.h"
#include "elf_image.h"
#include "site_classifier.h"
#include "x86_toolkit.h"

namespace afterburn {

object_annotation_result annotate_object(const std::string &object_path)
{
    object_annotation_result res;
    std::string error;
    auto img = elf_image::load(object_path, error);
    if (!img) {
        res.errors.push_back(error);
        return res;
    }
    auto tables = read_annotation_tables(*img);
    for (auto &e : tables.errors) res.errors.push_back(object_path + ": " + e);
    if (tables.records.empty()) {
        res.ok = res.errors.empty();
        return res;
    }

    std::fstream file(object_path, std::ios::in | std::ios::out | std::ios::binary);
    if (!file) {
        res.errors.push_back(object_path + ": cannot open for update");
        return res;
    }
    const x86_toolkit &tk = x86_toolkit::get();
    for (const auto &lr : tables.records) {
        annotation::site_record rec = lr.record;
        auto kind = static_cast<site_kind>(rec.kind);
        if (kind == site_kind::code16_region || kind == site_kind::code32_region) {
            res.regions++;
            continue;
        }
        char where[96];
        std::snprintf(where, sizeof where, "%s+0x%llx", lr.note->name.c_str(),
                      static_cast<unsigned long long>(lr.note_offset));
        const elf_section *sec = img->section_at(lr.site);
        if (!sec || !sec->executable()) {
            res.errors.push_back(object_path + ": record " + where + " does not point into code");
            continue;
        }
        uint64_t off = lr.site - sec->addr;
        uint64_t before = (rec.flags & annotation::flag_pad_before) ? rec.pad_len : 0;
        if (off < before || off + rec.insn_len + rec.pad_len - before > sec->data.size()) {
            res.errors.push_back(object_path + ": record " + where + " runs past the end of " + sec->name);
            continue;
        }
        site_description d;
        if (rec.insn_len == 0) {
            d.kind = site_kind::none;  // an expansion where the padded statement emitted nothing
        } else {
            llvm::MCInst inst;
            std::span<const uint8_t> bytes(sec->data.data() + off, rec.insn_len);
            unsigned n = site_kind_is_page_table(kind) ? decode_page_table_site(bytes, tk, inst)
                                                       : tk.decode(bytes, code_mode::bits64, inst);
            if (n != rec.insn_len) {
                res.errors.push_back(object_path + ": record " + where + ": " + std::to_string(rec.insn_len) +
                                     " bytes at " + img->describe(lr.site) + " are not one instruction");
                continue;
            }
            if (site_kind_is_page_table(kind)) {
                // The compiler pass chose the kind by C type; the bytes give the operands.
                const char *why = "";
                if (!describe_page_table_access(inst, bytes, tk, kind, d, why)) {
                    res.errors.push_back(object_path + ": record " + where + " at " + img->describe(lr.site) +
                                         ": page-table access " + why);
                    continue;
                }
                res.page_table++;
            } else {
                d = describe_instruction(inst, bytes, tk);
            }
        }
        // One padded statement can expand both in .text and in .altinstr_replacement (a macro
        // such as ASM_CLAC used inside ALTERNATIVE), and the assembler pass flags it by its
        // first expansion: the object says where each expansion really landed.
        uint8_t replacement = sec->name == ".altinstr_replacement" ? annotation::flag_replacement : 0;
        rec.flags &= static_cast<uint8_t>(~annotation::flag_replacement);
        bool padded_before = rec.flags & annotation::flag_pad_before;
        store_description(d, rec);
        // The decoders name an interrupt shadow with pad_before; the record sets it only when
        // NOPs really precede the instruction (a site padded with prefixes has none).
        if (!rec.pad_len) rec.flags &= static_cast<uint8_t>(~annotation::flag_pad_before);
        rec.flags |= replacement;
        if (padded_before != bool(rec.flags & annotation::flag_pad_before)) {
            res.errors.push_back(object_path + ": record " + where + ": padding placed " +
                                 (padded_before ? "before" : "after") + " an instruction that needs it " +
                                 (padded_before ? "after" : "before"));
            continue;
        }
        if (rec.insn_len) {
            // What afterburn-as emitted must pass the check every reader applies.
            auto e = annotation::check_padding_prefixes(rec, sec->data.data() + off);
            if (e != annotation::padding_error::ok) {
                res.errors.push_back(object_path + ": record " + where + " at " + img->describe(lr.site) + ": " +
                                     annotation::padding_error_text(e));
                continue;
            }
        }
        if (d.kind == site_kind::none) res.not_sensitive++;
        else {
            res.sites++;
            res.pad_bytes += rec.pad_len;
            if (rec.insn_len + rec.pad_len < site_kind_min_size(d.kind))
                res.warnings.push_back(object_path + ": site at " + img->describe(lr.site) + " has only " +
                                       std::to_string(rec.insn_len + rec.pad_len) + " bytes, " +
                                       site_kind_name(d.kind) + " wants " +
                                       std::to_string(site_kind_min_size(d.kind)));
        }
        // Write everything after the relocated `site` field.
        file.seekp(static_cast<std::streamoff>(lr.note->file_offset + lr.note_offset + 4));
        file.write(reinterpret_cast<const char *>(&rec) + 4, sizeof rec - 4);
    }
    file.flush();
    if (!file) res.errors.push_back(object_path + ": write failed");
    res.ok = res.errors.empty();
    return res;
}

} // namespace afterburn
