// Running other programs (the real assembler, gcc, helpers) from the host tools.
#pragma once

#include <string>
#include <vector>

namespace afterburn {

// Runs argv[0] (searched in PATH) with argv, optionally feeding stdin_text; returns the
// exit status (128+signal if killed, 127 if it could not be started).
int run_program(const std::vector<std::string> &argv, const std::string *stdin_text = nullptr);

// Replaces the current process; returns only on failure (with errno set).
void exec_program(const std::vector<std::string> &argv);

// Absolute path of the running executable.
std::string self_path();

// Finds an executable named `name` in PATH whose real path differs from `skip_realpath`.
std::string find_in_path(const std::string &name, const std::string &skip_realpath = {});

std::string real_path(const std::string &p);

// Opens /dev/null on any of fds 0-2 that is closed, so pipes and files opened later never
// land there (CI may start a build with standard input closed).
void ensure_standard_fds();

} // namespace afterburn
