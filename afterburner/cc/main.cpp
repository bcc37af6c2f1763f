// afterburn-cc: a drop-in gcc that routes every assembly through afterburn-as.
// `make CC=afterburn-cc` builds a Kbuild tree unchanged; the GCC plugin (compiler pass)
// will be loaded here too.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "process.h"

int main(int argc, char **argv)
{
    afterburn::ensure_standard_fds();
    std::string self = afterburn::self_path();
    std::string bindir = self.substr(0, self.rfind('/'));
    // afterburn-as is installed as `as` in a directory of its own; gcc -B searches it first.
    std::string asdir = bindir + "/../libexec/afterburn/as/";
    if (const char *env = std::getenv("AFTERBURN_AS_DIR"); env && *env) asdir = std::string(env) + "/";

    const char *gcc_env = std::getenv("AFTERBURN_GCC");
    std::string gcc = gcc_env && *gcc_env ? gcc_env : "gcc";

    if (argc == 2 && std::string(argv[1]) == "--afterburn-help") {
        std::printf("usage: afterburn-cc [gcc arguments]\n\n"
                    "Runs %s with -B%s so that every assembly goes through afterburn-as,\n"
                    "which pads and annotates sensitive instructions. Use it as CC, e.g.\n"
                    "  make CC=%s O=out -j2\n\n"
                    "environment: AFTERBURN_GCC (the compiler, default gcc), AFTERBURN_AS_DIR,\n"
                    "and those of afterburn-as (AFTERBURN_REPORT, AFTERBURN_REAL_AS, AFTERBURN_KEEP).\n",
                    gcc.c_str(), asdir.c_str(), self.c_str());
        return 0;
    }
    std::vector<std::string> args{gcc, "-B" + asdir};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    afterburn::exec_program(args);
    std::fprintf(stderr, "afterburn-cc: cannot run %s: ", gcc.c_str());
    std::perror("");
    return 127;
}
