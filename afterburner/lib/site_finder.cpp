#include "site_finder.h"

#include <algorithm>
#include <memory>

#include <llvm/BinaryFormat/ELF.h>
#include <llvm/MC/MCAsmBackend.h>
#include <llvm/MC/MCCodeEmitter.h>
#include <llvm/MC/MCELFStreamer.h>
#include <llvm/MC/MCObjectWriter.h>
#include <llvm/MC/MCParser/MCAsmParser.h>
#include <llvm/MC/MCParser/MCTargetAsmParser.h>
#include <llvm/MC/MCSectionELF.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/raw_ostream.h>

#include "site_classifier.h"
#include "x86_toolkit.h"

namespace afterburn {

namespace {

// Thrown out of the parse when the input expands beyond max_parsed_statements.
struct statement_budget_exceeded {
    unsigned line;
};

// An ELF object streamer (so expressions, labels and fragments behave exactly as in a real
// assembly) that watches what each source statement emits.
class site_streamer final : public llvm::MCELFStreamer {
public:
    site_streamer(llvm::MCContext &ctx, std::unique_ptr<llvm::MCAsmBackend> backend,
                  std::unique_ptr<llvm::MCObjectWriter> writer, std::unique_ptr<llvm::MCCodeEmitter> emitter,
                  const x86_toolkit &tk, site_scan &out, const find_options &options,
                  const std::set<origin> &include_origins)
        : MCELFStreamer(ctx, std::move(backend), std::move(writer), std::move(emitter)), tk_(tk), out_(out),
          mode_(options.bits32 ? code_mode::bits32 : code_mode::bits64), file_mode_(mode_), options_(options),
          include_origins_(include_origins), next_marker_(options.page_table_markers.begin())
    {
    }

    void emitDwarfLocDirective(unsigned file, unsigned line, unsigned column, unsigned flags, unsigned isa,
                               unsigned discriminator, llvm::StringRef file_name) override
    {
        if (file != origin_file) return;  // the source's own .loc: not needed to classify
        if (++statements_ > max_parsed_statements) throw statement_budget_exceeded{line};
        origin o{line, column};
        if (o != current_) flush_data();
        current_ = o;
        if (line > furthest_line_) pass_markers_before(line);
        furthest_line_ = std::max(furthest_line_, line);
    }

    void emitInstruction(const llvm::MCInst &inst, const llvm::MCSubtargetInfo &sti) override
    {
        flush_data();
        MCELFStreamer::emitInstruction(inst, sti);
        if (!in_code_section()) return;
        std::string_view name = tk_.opcode_name(inst);
        if (is_prefix_opcode(name)) {
            pending_prefix_ = true;
            prefix_origin_ = current_;
            pending_segment_prefix_ = pending_segment_prefix_ || name.substr(1) == "S_PREFIX";
            return;
        }
        site_kind kind = kind_of_opcode(name);
        bool had_prefix = pending_prefix_;
        bool own_segment = pending_segment_prefix_ || has_segment_override(inst, tk_);
        pending_prefix_ = pending_segment_prefix_ = false;
        if (pending_page_table_ != site_kind::none) {
            mark_page_table_access(inst, kind, had_prefix ? prefix_origin_ : current_, own_segment);
            return;
        }
        if (kind == site_kind::none) {
            if (mode_ == code_mode::bits64) plain_origins_.insert(current_);
            return;
        }
        if (include_origins_.count(current_)) {
            // Included files carry no origin markers, so their code is attributed to the
            // .include statement; only the file being assembled can be padded.
            out_.conflicts.push_back(std::to_string(current_.line) + ": sensitive instruction (" +
                                     std::string(name) + ") comes from an .include'd file; afterburn-as can "
                                     "only pad the file it assembles");
            return;
        }
        if (mode_ != code_mode::bits64) {
            out_.sensitive_in_narrow_code++;
            if (!out_.regions.empty() && out_.regions.back().closed_by.line == 0) out_.regions.back().sensitive++;
            return;
        }
        origin start = had_prefix ? prefix_origin_ : current_;
        record(start, kind, shadows_interrupts(inst, kind), site_kind_takes_prefix_padding(kind) && !own_segment);
    }

    void emitBytes(llvm::StringRef data) override
    {
        MCELFStreamer::emitBytes(data);
        pending_prefix_ = pending_segment_prefix_ = false;
        if (!in_code_section() || mode_ != code_mode::bits64) return;
        data_.append(data.begin(), data.end());
    }

    void emitValueImpl(const llvm::MCExpr *value, unsigned size, llvm::SMLoc loc) override
    {
        int64_t v;
        if (value->evaluateAsAbsolute(v)) {
            // Constants become bytes via emitIntValue -> emitBytes.
            MCELFStreamer::emitValueImpl(value, size, loc);
            return;
        }
        flush_data();
        data_broken_ = true;  // a relocated value: this statement is data, not an instruction
        if (in_code_section() && mode_ == code_mode::bits64) plain_origins_.insert(current_);
        MCELFStreamer::emitValueImpl(value, size, loc);
    }

    void changeSection(llvm::MCSection *section, const llvm::MCExpr *subsection) override
    {
        flush_data();
        pending_prefix_ = pending_segment_prefix_ = false;
        MCELFStreamer::changeSection(section, subsection);
        // MCStreamer records the new section only after changeSection returns.
        section_ = llvm::dyn_cast_or_null<llvm::MCSectionELF>(section);
        update_region();
    }

    void emitAssemblerFlag(llvm::MCAssemblerFlag flag) override
    {
        flush_data();
        MCELFStreamer::emitAssemblerFlag(flag);
        if (flag == llvm::MCAF_Code16) mode_ = code_mode::bits16;
        else if (flag == llvm::MCAF_Code32) mode_ = code_mode::bits32;
        else if (flag == llvm::MCAF_Code64) mode_ = code_mode::bits64;
        update_region();
    }

    // The last statement's data has no next statement to flush it.
    void finish_scan()
    {
        flush_data();
        pass_markers_before(~0u);
        if (pending_page_table_ != site_kind::none) unfollowed_marker();
        // Padding prefixes go in front of whatever the statement emits in every expansion:
        // one that is also plain code or data somewhere keeps NOP padding, which gas sizes
        // from the bytes and which never changes the meaning of what precedes it.
        for (auto &[at, s] : out_.sites)
            if (plain_origins_.count(at)) s.prefixes = false;
    }

private:
    bool in_code_section() const { return section_ && (section_->getFlags() & llvm::ELF::SHF_EXECINSTR); }

    // A hand-encoded instruction whose legacy prefixes include a segment override.
    static bool starts_with_segment_prefix(std::string_view bytes)
    {
        for (unsigned char b : bytes) {
            if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65) return true;
            if (b != 0x66 && b != 0x67 && b != 0xf0 && b != 0xf2 && b != 0xf3) return false;
        }
        return false;
    }

    std::string section_name() const { return section_ ? section_->getName().str() : std::string(); }

    // Does this instruction (sti, mov/pop to %ss) hold off interrupts for one more instruction?
    bool shadows_interrupts(const llvm::MCInst &inst, site_kind kind) const
    {
        if (kind == site_kind::sti) return true;
        if (kind != site_kind::mov_to_seg && kind != site_kind::pop_seg) return false;
        if (tk_.opcode_name(inst).substr(0, 5) == "POPSS") return true;
        return inst.getNumOperands() && inst.getOperand(0).isReg() &&
               tk_.register_name(inst.getOperand(0).getReg()) == "SS";
    }

    void record(origin start, site_kind kind, bool pad_before, bool prefixes)
    {
        if (options_.skip_lines.count(current_.line)) return;
        auto [it, fresh] = out_.sites.try_emplace(current_);
        found_site &s = it->second;
        s.prefixes = s.prefixes && prefixes;
        if (fresh) {
            s.start = start;
            s.end = current_;
            s.kind = kind;
            s.in_replacement = section_name() == ".altinstr_replacement";
            s.pad_before = pad_before;
        } else if (s.pad_before != pad_before) {
            out_.conflicts.push_back(std::to_string(current_.line) +
                                     ": this statement assembles to an interrupt-shadow instruction (sti, mov to "
                                     "%ss) in some expansions and to another sensitive instruction in others; its "
                                     "padding cannot go both before and after it");
        } else if (s.start != start) {
            out_.warnings.push_back(std::to_string(current_.line) +
                                    ": sensitive instruction is preceded by a prefix only in some expansions");
        }
        // Padding after an instruction is sized by gas from the bytes it emits. Padding in
        // front is emitted before gas has encoded the instruction, so it is sized for the
        // shortest encoding of the kind (sti: 1 byte, mov to %ss: 2).
        if (pad_before) s.pad = std::max(s.pad, site_kind_min_size(kind) - (kind == site_kind::sti ? 1u : 2u));
    }

    // Markers of the compiler pass on lines before `line` now wait for the next instruction.
    void pass_markers_before(unsigned line)
    {
        const auto &markers = options_.page_table_markers;
        for (; next_marker_ != markers.end() && next_marker_->first < line; ++next_marker_) {
            if (pending_page_table_ != site_kind::none) unfollowed_marker();
            if (next_marker_->second == site_kind::none) {
                out_.conflicts.push_back(std::to_string(next_marker_->first) +
                                         ": page-table marker names neither store nor load");
                continue;
            }
            pending_page_table_ = next_marker_->second;
            marker_line_ = next_marker_->first;
        }
    }

    void unfollowed_marker()
    {
        out_.conflicts.push_back(std::to_string(marker_line_) +
                                 ": page-table marker is not followed by an instruction in code");
        pending_page_table_ = site_kind::none;
    }

    // The instruction right after a page-table marker: the compiler found it accesses an
    // entry by C type; it must be one whose access a record can describe.
    void mark_page_table_access(const llvm::MCInst &inst, site_kind opcode_kind, origin start, bool own_segment)
    {
        site_kind kind = pending_page_table_;
        pending_page_table_ = site_kind::none;
        std::string where = std::to_string(current_.line) + ": page-table access (marker on line " +
                            std::to_string(marker_line_) + ") ";
        site_description d;
        const char *why = "";
        if (opcode_kind != site_kind::none) {
            out_.conflicts.push_back(where + "is also a sensitive instruction (" + site_kind_name(opcode_kind) +
                                     "); one site cannot be both");
        } else if (mode_ != code_mode::bits64) {
            out_.conflicts.push_back(where + "lies in 16/32-bit code");
        } else if (options_.macro_lines.count(current_.line) || current_.line < marker_line_) {
            out_.conflicts.push_back(where + "comes from a macro body; only the statement itself can be padded");
        } else if (!describe_page_table_access(inst, {}, tk_, kind, d, why)) {
            out_.conflicts.push_back(where + "cannot be described: " + why);
        } else {
            bool prefixes = d.special == static_cast<uint8_t>(page_table_form::memory_operand) && !own_segment;
            record(start, kind, false, prefixes);
        }
    }

    // A statement's constant data in a code section may be a hand-encoded instruction
    // (".byte 0x0f,0x01,0xca" is clac): decode it, and treat it as a site if it is
    // exactly one sensitive instruction.
    void flush_data()
    {
        if (!data_.empty() && !data_broken_) {
            llvm::MCInst inst;
            std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t *>(data_.data()), data_.size());
            unsigned n = tk_.decode(bytes, code_mode::bits64, inst);
            site_kind kind = n == data_.size() ? kind_of_opcode(tk_.opcode_name(inst)) : site_kind::none;
            if (kind != site_kind::none)
                record(current_, kind, kind == site_kind::sti,
                       site_kind_takes_prefix_padding(kind) && !has_segment_override(inst, tk_) &&
                           !starts_with_segment_prefix(data_));
            else if (mode_ == code_mode::bits64 && in_code_section())
                plain_origins_.insert(current_);
        }
        data_.clear();
        data_broken_ = false;
    }

    // Keeps the list of 16/32-bit regions in code sections up to date. Region bounds are
    // placed at top-level statements only: a section switched inside a macro expansion
    // (.pushsection/.popsection) comes back before the expansion ends.
    void update_region()
    {
        if (file_mode_ != code_mode::bits64) return;  // whole file is narrow: nothing to mark
        if (options_.macro_lines.count(current_.line)) return;
        bool narrow = mode_ != code_mode::bits64 && in_code_section();
        bool open = !out_.regions.empty() && out_.regions.back().closed_by.line == 0 && region_open_;
        if (open) {
            out_.regions.back().closed_by = current_;
            region_open_ = false;
        }
        if (narrow) {
            found_region r;
            r.opened_by = current_;
            r.bits16 = mode_ == code_mode::bits16;
            out_.regions.push_back(r);
            region_open_ = true;
        }
    }

    const x86_toolkit &tk_;
    site_scan &out_;
    code_mode mode_;
    code_mode file_mode_;
    origin current_{};
    bool pending_prefix_ = false;
    bool pending_segment_prefix_ = false;  // the pending prefix statements include a segment override
    origin prefix_origin_{};
    std::set<origin> plain_origins_;  // statements that emit non-sensitive code or data in some expansion
    std::string data_;
    bool data_broken_ = false;
    bool region_open_ = false;
    const find_options &options_;
    const llvm::MCSectionELF *section_ = nullptr;  // the section being assembled into
    const std::set<origin> &include_origins_;  // .include statements of the main file
    unsigned long statements_ = 0;
    std::map<unsigned, site_kind>::const_iterator next_marker_;  // first page-table marker not yet passed
    site_kind pending_page_table_ = site_kind::none;              // a passed marker waiting for its instruction
    unsigned marker_line_ = 0;
    unsigned furthest_line_ = 0;
};

struct diagnostics {
    site_scan *out;
    std::string file;
};

void on_diagnostic(const llvm::SMDiagnostic &d, void *context)
{
    auto *ctx = static_cast<diagnostics *>(context);
    std::string text = ctx->file + ":" + std::to_string(d.getLineNo()) + ": " + d.getMessage().str();
    if (d.getMessage().startswith(limit_diagnostic_prefix))
        ctx->out->limits.push_back(ctx->file + ":" + std::to_string(d.getLineNo()) + ": error: " +
                                   d.getMessage().drop_front(sizeof limit_diagnostic_prefix - 1).str());
    if (d.getKind() == llvm::SourceMgr::DK_Error) ctx->out->errors.push_back(text);
    else if (d.getKind() == llvm::SourceMgr::DK_Warning) ctx->out->warnings.push_back(text);
}

} // namespace

site_scan find_sites(std::string_view text, const std::vector<asm_line> &lines, std::string_view file_name,
                     const find_options &options)
{
    site_scan out;
    const x86_toolkit &tk = x86_toolkit::get();
    std::string instrumented = instrument_for_origins(text, lines);

    llvm::SourceMgr sources;
    diagnostics diag{&out, std::string(file_name)};
    sources.setDiagHandler(on_diagnostic, &diag);
    sources.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBuffer(instrumented, "input"), llvm::SMLoc());
    sources.setIncludeDirs(options.include_dirs);

    const llvm::MCSubtargetInfo &sti = tk.subtarget(options.bits32 ? code_mode::bits32 : code_mode::bits64);
    llvm::MCContext ctx(llvm::Triple(sti.getTargetTriple()), &tk.asm_info(), &tk.registers(), &sti, &sources,
                        &tk.options());
    std::unique_ptr<llvm::MCObjectFileInfo> mofi(tk.target().createMCObjectFileInfo(ctx, false));
    ctx.setObjectFileInfo(mofi.get());
    ctx.setDwarfVersion(4);

    std::unique_ptr<llvm::MCAsmBackend> backend(tk.target().createMCAsmBackend(sti, tk.registers(), tk.options()));
    llvm::raw_null_ostream sink;
    auto writer = backend->createObjectWriter(sink);
    std::unique_ptr<llvm::MCCodeEmitter> emitter(
        tk.target().createMCCodeEmitter(tk.instructions(), tk.registers(), ctx));
    std::set<origin> include_origins;
    for (size_t l = 0; l < lines.size(); ++l)
        for (size_t k = 0; k < lines[l].statements.size(); ++k) {
            const auto &st = lines[l].statements[k];
            if (text.substr(st.begin, st.end - st.begin).substr(0, 8) == ".include")
                include_origins.insert({unsigned(l + 1), unsigned(k)});
        }
    site_streamer streamer(ctx, std::move(backend), std::move(writer), std::move(emitter), tk, out, options,
                           include_origins);
    tk.target().createNullTargetStreamer(streamer);

    std::unique_ptr<llvm::MCAsmParser> parser(llvm::createMCAsmParser(sources, ctx, streamer, tk.asm_info()));
    std::unique_ptr<llvm::MCTargetAsmParser> target_parser(
        tk.target().createMCAsmParser(sti, *parser, tk.instructions(), tk.options()));
    if (!target_parser) {
        out.errors.push_back(std::string(file_name) + ": LLVM has no x86 assembly parser");
        return out;
    }
    parser->setTargetParser(*target_parser);
    // NoFinalize: we only classify; the real object is GNU as's to write.
    bool failed = false;
    try {
        failed = parser->Run(/*NoInitialTextSection=*/false, /*NoFinalize=*/true);
    } catch (const statement_budget_exceeded &e) {
        out.limits.push_back(std::string(file_name) + ":" + std::to_string(e.line) + ": error: more than " +
                             std::to_string(max_parsed_statements) +
                             " statements after expanding .rept/.irp/.macro; afterburn-as refuses the file");
        out.errors.push_back(out.limits.back());
        return out;
    }
    streamer.finish_scan();
    if (failed && out.errors.empty()) out.errors.push_back(std::string(file_name) + ": LLVM MC could not parse the file");
    return out;
}

} // namespace afterburn
