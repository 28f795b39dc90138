// Downsampled-ImageNet npz batches (Chrabaszcz et al. 2017: `data` uint8 (N, 3*R*R) planar, `labels`
// 1-based) in a folder, opened as data/image_source.h opens such a folder (data/array_sources.cpp),
// every image read one at a time, and the labels.
#include <filesystem>

#include "data/image_source.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  if (size > fuzz::kMaxInputBytes) return 0;
  fuzz::clear_scratch();
  const std::string batch = fuzz::write_input(data, size, "downsampled/train_data_batch_1.npz");
  const std::string folder = std::filesystem::path(batch).parent_path().string();
  fuzz::expect_contract([&] {
    const auto images = open_image_source(folder);
    if (images->channels() != 3 || images->labels().size(0) != images->size()) __builtin_trap();
    for (int64_t i = 0; i < images->size(); ++i) (void)images->read(i, i + 1);
  });
  return 0;
}
