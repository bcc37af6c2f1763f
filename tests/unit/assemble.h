// Test helper: assembles a snippet through the real afterburn-as into a temporary object.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace afterburn::test {

struct assembled {
    int status = -1;
    std::string object;  // path of the .o
    std::string log;     // afterburn-as / gas messages
};

inline std::filesystem::path scratch_dir()
{
    auto dir = std::filesystem::temp_directory_path() / ("afterburn-tests-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return dir;
}

inline assembled assemble(const std::string &name, const std::string &source)
{
    assembled r;
    auto dir = scratch_dir();
    auto src = dir / (name + ".s");
    r.object = (dir / (name + ".o")).string();
    auto log = dir / (name + ".log");
    std::ofstream(src) << source;
    std::string cmd = std::string(AFTERBURN_AS_PATH) + " --64 -o " + r.object + " " + src.string() + " > " +
                      log.string() + " 2>&1";
    int rc = std::system(cmd.c_str());
    r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    std::ifstream in(log);
    r.log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
}

} // namespace afterburn::test
