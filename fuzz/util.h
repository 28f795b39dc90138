// Shared pieces of the fuzz targets (fuzz/fuzz_*.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include "core/error.h"

namespace cmbench::fuzz {

// The largest input (bytes) a target reads; libFuzzer's -max_len is set from scripts/fuzz as well.
constexpr size_t kMaxInputBytes = size_t{1} << 20;

// Called once per process before the first input: logging off (warnings about bad input would
// flood the fuzzer's output) and a private scratch folder.
void init_once();

// A private folder for inputs that readers take by path (under $TMPDIR, else /tmp; removed at exit).
const std::string& scratch_dir();

// Writes the input to scratch_dir()/name (replacing it) and returns the path.
std::string write_input(const uint8_t* data, size_t size, const std::string& name);

// The input as scratch_dir()/X.h5, with HDF5's error stacks off (they would flood the fuzzer's
// output); "" when it is over kMaxInputBytes.
std::string write_hdf5_input(const uint8_t* data, size_t size);

// Removes everything under scratch_dir() (for targets that lay out folders).
void clear_scratch();

// Runs `reader` on one input. A cmbench::Error (InputError for bad input, CheckError for a failed
// checksum) is the contract's answer to malformed data; any other exception escapes, and the fuzzer
// reports it (an uncaught exception aborts) as the bug it is.
template <class Reader>
void expect_contract(Reader&& reader) {
  try {
    reader();
  } catch (const cmbench::Error&) {
  }
}

}  // namespace cmbench::fuzz
