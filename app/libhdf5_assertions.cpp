// libhdf5 built with assertions (Debian testing's libhdf5 2.2) aborts on some damaged files where a
// release build returns an error: an undefined address or a collection cut short at the end of
// allocation trips an assert() in its sources (README, "Reliability"). The cmbench program defines
// glibc's __assert_fail itself, so that such an assertion, while a file is being read
// (h5::ReadDeadline), ends as every damaged input does: one line naming the file, exit status 2.
// Any other assertion is reported and aborts as glibc's own does. Only the program links this file:
// the fuzz targets and tests still stop on these assertions, so that they are found.
#include <assert.h>
#include <errno.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/hdf5.h"

extern "C" void __assert_fail(const char* assertion, const char* file, unsigned int line,
                              const char* function) __THROW {
  const char* base = std::strrchr(file, '/');
  base = base != nullptr ? base + 1 : file;
  if (std::strncmp(base, "H5", 2) == 0) {
    if (const auto path = cmbench::h5::file_being_read()) {
      std::fprintf(stderr,
                   "cmbench: error: %s: libhdf5 stopped on its own check reading this damaged HDF5 file (%s:%u: %s)\n",
                   path->c_str(), base, line, assertion);
      std::fflush(stderr);
      std::_Exit(static_cast<int>(cmbench::ExitCode::bad_input));
    }
  }
  std::fprintf(stderr, "%s: %s:%u: %s: Assertion `%s' failed.\n", program_invocation_short_name, file, line, function,
               assertion);
  std::fflush(stderr);
  std::abort();
}
