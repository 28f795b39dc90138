// The whole `cmbench` command line as a library call: main() is one line around it, and test
// programs (or embedding code that registered its own methods first) run commands in-process with
// the same output and exit codes as the binary.
#pragma once

#include <string>
#include <vector>

namespace cmbench::cli {

// Parses `argv` (argv[0] is the program name), runs the chosen command and returns the exit code
// (0 success, 1 a check failed, 2 bad usage or bad input), with errors on stderr.
int run_command_line(int argc, char** argv);
// The same for arguments without the program name, e.g. {"train", "--config", "c.toml"}.
int run_command_line(const std::vector<std::string>& args);

}  // namespace cmbench::cli
