// npz archives (core/npy.h read_npz, npz_keys) and the lazy reader of their members and of .npy
// files (data/npy_lazy.h, its own header parser), then the images source over them
// (data/image_source.h on FILE.npz): zip structure (zip64, stored and deflated members), declared
// sizes, the npy headers inside.
#include <cstring>

#include "core/npy.h"
#include "data/image_source.h"
#include "data/npy_lazy.h"
#include "fuzz/util.h"

namespace {

// Reads all of a lazily opened array, a chunk at a time.
void read_all(const cmbench::LazyNpy& array) {
  const uint64_t bytes = static_cast<uint64_t>(array.numel()) * array.item_size();
  std::vector<uint8_t> chunk(1 << 16);
  for (uint64_t offset = 0; offset < bytes; offset += chunk.size()) {
    array.read(offset, std::min<uint64_t>(chunk.size(), bytes - offset), chunk.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  if (size > fuzz::kMaxInputBytes) return 0;
  if (size >= 6 && std::memcmp(data, "\x93NUMPY", 6) == 0) {
    const std::string path = fuzz::write_input(data, size, "input.npy");
    fuzz::expect_contract([&] { read_all(*LazyNpy::open_file(path)); });
    return 0;
  }
  const std::string path = fuzz::write_input(data, size, "input.npz");
  std::vector<std::string> keys;
  fuzz::expect_contract([&] { keys = npz_keys(path); });
  fuzz::expect_contract([&] {
    for (const auto& [key, array] : read_npz(path)) {
      if (array.bytes.size() != static_cast<size_t>(array.numel()) * dtype_size(array.dtype)) __builtin_trap();
    }
  });
  for (const auto& key : keys) fuzz::expect_contract([&] { read_all(*LazyNpy::open_npz_member(path, key)); });
  fuzz::expect_contract([&] {
    const auto images = open_image_source(path);
    for (int64_t i = 0; i < images->size(); ++i) (void)images->read(i, i + 1);
    (void)images->labels();
  });
  return 0;
}
