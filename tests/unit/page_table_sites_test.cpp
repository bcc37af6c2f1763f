// afterburn-as and the compiler pass's markers (docs/annotation-format.md, "Page-table sites"):
// the instruction after each marker becomes a padded page-table site; markers it cannot honour
// are refused with the line, and no object is written.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "annotation_tables.h"
#include "assemble.h"
#include "elf_image.h"
#include "image_rewriter.h"
#include "scanner.h"
#include "wedge/page_table_access.h"

using namespace afterburn;

namespace {

scan_report scan_object(const std::string &path)
{
    std::string error;
    auto img = elf_image::load(path, error);
    INFO(error);
    REQUIRE(img);
    return scan_image(*img);
}

} // namespace

TEST_CASE("marked accesses of every form become page-table sites", "[as][page_table]")
{
    auto obj = test::assemble("pt", "\t.text\n"
                                    "\t#afterburn_page_table store\n\tmovq %rsi, (%rdi)\n"
                                    "\t#afterburn_page_table load\n\tmovq 8(%rdi,%rcx,8), %rax\n"
                                    "\t#afterburn_page_table store\n\tlock; cmpxchgq %rdx, (%rdi)\n"
                                    "\t#afterburn_page_table store\n\tandq $-33, (%rdi)\n"
                                    "\t#afterburn_page_table store\n\trep stosq\n"
                                    "\t#afterburn_page_table store\n\tcall memcpy\n"
                                    "\tmovq (%rdi), %rax\n\tcli\n\tret\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    auto r = scan_object(obj.object);
    CHECK(r.clean());
    CHECK(r.classes[static_cast<unsigned>(site_kind::page_table_store)].annotated == 5);
    CHECK(r.classes[static_cast<unsigned>(site_kind::page_table_load)].annotated == 1);
    CHECK(r.classes[static_cast<unsigned>(site_kind::cli)].annotated == 1);
    CHECK(r.all.annotated == 7);  // the unmarked mov is no site
}

TEST_CASE("markers afterburn-as cannot honour are refused with the line", "[as][page_table]")
{
    struct bad {
        const char *name, *text, *message;
    };
    const bad cases[] = {
        {"pt-last", "\t.text\n\tret\n\t#afterburn_page_table store\n", "3: page-table marker is not followed"},
        {"pt-twice", "\t.text\n\t#afterburn_page_table store\n\t#afterburn_page_table load\n\tmovq %rax, (%rdi)\n",
         "2: page-table marker is not followed"},
        {"pt-sensitive", "\t.text\n\t#afterburn_page_table load\n\tmovq %cr3, %rax\n", "is also a sensitive instruction"},
        {"pt-no-memory", "\t.text\n\t#afterburn_page_table load\n\tmovq %rsi, %rax\n", "cannot be described"},
        {"pt-word", "\t.text\n\t#afterburn_page_table maybe\n\tmovq %rsi, (%rax)\n", "names neither store nor load"},
    };
    for (const auto &c : cases) {
        auto obj = test::assemble(c.name, c.text);
        INFO(c.name << ": " << obj.log);
        CHECK(obj.status == 1);
        CHECK(obj.log.find(c.message) != std::string::npos);
        CHECK(!std::filesystem::exists(obj.object));
    }
}

namespace {

std::vector<uint8_t> read_bytes(const std::string &p)
{
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

} // namespace

// The records afterburn-as writes, read by the wedge core's describe (wedge/page_table_access.h)
// and rewritten by `afterburn rewrite --pt-sites wedge`: the forms Linux 6.1 has (mov, andb $imm,
// btr, test, cmp, and to a register, rep movsl/stos) and the ones its inline asm may add.
TEST_CASE("pt-sites wedge: every assembled form is described and becomes a call", "[rewriter][page_table]")
{
    struct form {
        const char *insn;
        wedge::pt_op op;
    };
    const form forms[] = {
        {"movq %rsi, (%rdi)", wedge::pt_op::mov_store},       {"movq 8(%rdi,%rcx,8), %rax", wedge::pt_op::mov_load},
        {"movl $0, 4(%rdi)", wedge::pt_op::mov_store},         {"lock; cmpxchgq %rdx, (%rdi)", wedge::pt_op::cmpxchg},
        {"xchgq %rax, (%rdi)", wedge::pt_op::xchg},            {"andq $-33, (%rdi)", wedge::pt_op::and_},
        {"andb $0xdf, (%rdi)", wedge::pt_op::and_},            {"lock; orb $1, 1(%rdi)", wedge::pt_op::or_},
        {"btrq $5, (%rdi)", wedge::pt_op::btr},                {"lock; btsq %rsi, (%rdi)", wedge::pt_op::bts},
        {"testb $1, (%rdi)", wedge::pt_op::test},              {"testq %rax, 16(%rdi)", wedge::pt_op::test},
        {"cmpq (%rdi), %rax", wedge::pt_op::cmp},              {"andq (%rdi), %rax", wedge::pt_op::and_},
        {"movzbl 1(%rdi), %eax", wedge::pt_op::movzx},         {"movslq (%rdi), %rax", wedge::pt_op::movsx},
        {"movq %gs:8(%rdi), %rax", wedge::pt_op::mov_load},    {"rep movsl", wedge::pt_op::movs},
        {"rep stosq", wedge::pt_op::stos},                     {"stosb", wedge::pt_op::stos},
    };
    std::string text = "\t.text\n";
    for (const form &f : forms) text += std::string("\t#afterburn_page_table store\n\t") + f.insn + "\n";
    text += "\tcli\n\tret\n";
    auto obj = test::assemble("pt-wedge", text);
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    std::string error;
    auto img = elf_image::load(obj.object, error);
    REQUIRE(img);
    auto file = read_bytes(obj.object);
    const auto original = file;

    // The plan's rows, and the ones every other plan keeps.
    wedge::rewrite_plan p = wedge::plan_for(wedge::backend_id::xen, wedge::page_table_sites::wedge);
    CHECK(p.page_table_calls);
    CHECK(p.kinds.kinds[static_cast<unsigned>(site_kind::page_table_load)].how == rewriter::strategy::call);
    CHECK_FALSE(wedge::plan_for(wedge::backend_id::kvm, wedge::page_table_sites::wedge).page_table_calls);

    auto report = rewrite_image(*img, file, p);
    for (const auto &f : report.failures) UNSCOPED_INFO(f);
    CHECK(report.failures.empty());
    CHECK(report.counts.by_kind[static_cast<unsigned>(site_kind::page_table_store)] == std::size(forms));
    CHECK(report.counts.rewritten == std::size(forms) + 1);

    auto tables = read_annotation_tables(*img);
    unsigned n = 0;
    for (const auto &lr : tables.records) {
        if (lr.record.kind != static_cast<uint8_t>(site_kind::page_table_store)) continue;
        const elf_section *sec = img->section_at(lr.site);
        REQUIRE(sec);
        const uint64_t at = sec->file_offset + (lr.site - sec->addr);
        // call entry(page_table_store) in place of the instruction ...
        CHECK(file[at] == 0xe8);
        // ... and the original bytes say what it was
        wedge::page_table_access a;
        INFO(forms[n].insn);
        CHECK(wedge::describe_page_table_site(lr.record, original.data() + at, lr.site, {}, a) == nullptr);
        CHECK(a.op == forms[n].op);
        ++n;
    }
    CHECK(n == std::size(forms));

    // The native plan leaves them as they are.
    auto untouched = original;
    auto native = rewrite_image(*img, untouched, wedge::plan_for(wedge::backend_id::xen));
    CHECK(native.counts.by_kind[static_cast<unsigned>(site_kind::page_table_store)] == 0);
}

TEST_CASE("pt-sites wedge: a form the wedge cannot perform stops the rewrite, named", "[rewriter][page_table]")
{
    struct bad {
        const char *insn, *message;
    };
    const bad cases[] = {
        {"incq (%rdi)", "an instruction the wedge does not perform"},
        {"adcq %rax, (%rdi)", "an instruction the wedge does not perform"},
        {"movb %ah, (%rdi)", "no register operand"},  // afterburn-as records no high-byte register
        {"call memcpy", "not known as memcpy, memmove or memset"},  // an object: no symbol for it
    };
    for (const auto &c : cases) {
        auto obj = test::assemble("pt-refused", std::string("\t.text\n\t#afterburn_page_table store\n\t") + c.insn +
                                                    "\n\tret\n");
        INFO(c.insn << ": " << obj.log);
        REQUIRE(obj.status == 0);
        std::string error;
        auto img = elf_image::load(obj.object, error);
        REQUIRE(img);
        auto file = read_bytes(obj.object);
        const auto before = file;
        auto report =
            rewrite_image(*img, file, wedge::plan_for(wedge::backend_id::xen, wedge::page_table_sites::wedge));
        REQUIRE(report.failures.size() == 1);
        INFO(report.failures[0]);
        CHECK(report.failures[0].find(c.message) != std::string::npos);
        CHECK(file == before);  // nothing rewritten
    }
}
