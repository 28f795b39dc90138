// Errors that the command-line program maps to exit codes (DESIGN.md: 1 a check failed, 2 bad
// usage or bad input). Messages are one line and name the file or key at fault.
#pragma once

#include <stdexcept>
#include <string>

namespace cmbench {

enum class ExitCode : int { success = 0, check_failed = 1, bad_input = 2 };

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// Bad usage or bad input: missing or malformed file, wrong shape, unknown name (exit 2).
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(ExitCode::bad_input, message) {}
};

// A check that ran and failed: checksum mismatch, regression, selftest above tolerance (exit 1).
class CheckError : public Error {
 public:
  explicit CheckError(const std::string& message) : Error(ExitCode::check_failed, message) {}
};

}  // namespace cmbench
