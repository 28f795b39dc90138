// The CIFAR-10 binary reader (data/image_source.h on a CIFAR-10 root; data/cifar10_source.cpp).
// The first input byte lays out the root: bit 0 the batch files in root/cifar-10-batches-bin (else
// in root itself), bit 1 the train split (data_batch_1..5, links to one file; else test_batch),
// bit 2 the file kept at the input's length (else extended with zeros to a whole batch, so that the
// records the rest of the input holds are read).
#include <filesystem>

#include <fmt/format.h>

#include "data/cifar10.h"
#include "data/image_source.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  namespace fs = std::filesystem;
  fuzz::init_once();
  if (size < 1 || size > fuzz::kMaxInputBytes) return 0;
  const uint8_t layout = data[0];
  fuzz::clear_scratch();
  const fs::path root = fs::path(fuzz::scratch_dir()) / "cifar";
  const fs::path folder = layout & 1 ? root / cifar10::kFolder : root;
  const bool train = layout & 2;
  const std::string first = train ? "data_batch_1.bin" : "test_batch.bin";
  const fs::path batch = fuzz::write_input(data + 1, size - 1, fs::relative(folder / first, fuzz::scratch_dir()).string());
  if (!(layout & 4)) fs::resize_file(batch, cifar10::kBatchBytes);
  if (train) {
    for (int b = 2; b <= 5; ++b) fs::create_hard_link(batch, folder / fmt::format("data_batch_{}.bin", b));
  }
  fuzz::expect_contract([&] {
    const auto images = open_image_source(root.string() + (train ? ":train" : ":test"));
    const int64_t n = images->size();
    if (n != (train ? 5 : 1) * cifar10::kImagesPerBatch || images->labels().size(0) != n) __builtin_trap();
    // The records the input holds, and the images across a batch boundary.
    const int64_t held = std::min<int64_t>(n, static_cast<int64_t>(size) / cifar10::kRecordBytes + 1);
    (void)images->read(0, held);
    (void)images->read_indices({n - 1, 0, cifar10::kImagesPerBatch - 1, std::min(n - 1, cifar10::kImagesPerBatch)});
  });
  return 0;
}
