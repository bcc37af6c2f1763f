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

// One directory per test process, removed when the process exits (a test binary that is
// killed leaves it behind; nothing else does).
inline std::filesystem::path scratch_dir()
{
    struct owned_dir {
        std::filesystem::path path;
        owned_dir() : path(std::filesystem::temp_directory_path() / ("afterburn-tests-" + std::to_string(getpid())))
        {
            std::filesystem::create_directories(path);
        }
        ~owned_dir()
        {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    };
    static owned_dir dir;
    return dir.path;
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
