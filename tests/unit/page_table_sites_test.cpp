// afterburn-as and the compiler pass's markers (docs/annotation-format.md, "Page-table sites"):
// the instruction after each marker becomes a padded page-table site; markers it cannot honour
// are refused with the line, and no object is written.
#include <catch2/catch.hpp>

#include <filesystem>

#include "assemble.h"
#include "elf_image.h"
#include "scanner.h"

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
