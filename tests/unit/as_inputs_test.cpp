// afterburn-as on inputs GNU as accepts that once broke it (issue 9): each must be annotated
// (and scan clean), or refused with FILE:LINE.
#include <catch2/catch.hpp>

#include <chrono>
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

TEST_CASE("a vararg macro that splices its argument is annotated", "[as][inputs]")
{
    auto obj = test::assemble("vararg", "\t.macro mm args:vararg\n\t\\args\n\t.endm\n\t.text\n\tmm cli\n"
                                        "\tmm mov %rax, %cr3\n\tmm nop\n\tret\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    auto r = scan_object(obj.object);
    CHECK(r.clean());
    CHECK(r.all.annotated == 2);
    CHECK(r.classes[static_cast<unsigned>(site_kind::mov_to_cr)].annotated == 1);
}

TEST_CASE("an .end directive ends the annotated text too", "[as][inputs]")
{
    auto obj = test::assemble("end", "\t.text\n\tcli\n\t.code32\n\tcli\n\t.end\n\tthis is not assembled\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    auto r = scan_object(obj.object);
    CHECK(r.clean());
    CHECK(r.all.annotated == 1);
    CHECK(r.all.explained == 1);  // the .code32 cli, in a region closed before .end
}

TEST_CASE("a huge .rept is refused at once with FILE:LINE", "[as][inputs]")
{
    auto t0 = std::chrono::steady_clock::now();
    auto obj = test::assemble("rept", "\t.text\n\tcli\n\t.rept 1<<40\n\tnop\n\t.endr\n");
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    INFO(obj.log);
    CHECK(obj.status == 1);
    CHECK(obj.log.find("rept.s:3: error: .rept count above") != std::string::npos);
    CHECK(!std::filesystem::exists(obj.object));
    CHECK(ms < 1000);
}

TEST_CASE("nested repetitions beyond the statement budget are refused", "[as][inputs]")
{
    auto obj = test::assemble("nested", "\t.text\n\t.rept 1<<16\n\t.rept 1<<16\n\tnop\n\t.endr\n\t.endr\n");
    INFO(obj.log);
    CHECK(obj.status == 1);
    CHECK(obj.log.find("nested.s:") != std::string::npos);
    CHECK(obj.log.find("statements after expanding") != std::string::npos);
}

TEST_CASE("a .rept within the limit still assembles", "[as][inputs]")
{
    auto obj = test::assemble("rept_ok", "\t.text\n\t.rept 3\n\tcli\n\t.endr\n\tret\n");
    INFO(obj.log);
    REQUIRE(obj.status == 0);
    CHECK(scan_object(obj.object).all.annotated == 3);
}
