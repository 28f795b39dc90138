// .npy parsing (core/npy.h parse_npy): headers of format 1.0/2.0/3.0, dtypes, shapes, data sizes.
#include "core/npy.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cmbench::fuzz::init_once();
  cmbench::fuzz::expect_contract([&] {
    const auto array = cmbench::parse_npy(data, size, "input.npy");
    // What a parsed array promises: its bytes are exactly numel elements of its dtype.
    if (array.bytes.size() != static_cast<size_t>(array.numel()) * cmbench::dtype_size(array.dtype)) __builtin_trap();
    (void)array.to_doubles();
    (void)cmbench::serialize_npy(array);
  });
  return 0;
}
