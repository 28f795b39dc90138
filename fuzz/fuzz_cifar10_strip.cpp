// The CIFAR-10 npm mirror's PNG strips (data/cifar10_fetch.h records_from_png_strip): a 1024-wide RGB
// PNG, one image per row, converted to official records. The labels (one per row of the strip, as
// its header says, taken from the input's bytes modulo 11 so that some are out of range) are the
// only part the input does not give directly.
#include "core/png.h"
#include "data/cifar10.h"
#include "data/cifar10_fetch.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  const std::vector<uint8_t> png(data, data + size);
  fuzz::expect_contract([&] {
    const PngHeader header = parse_png_header(png.data(), png.size(), "strip.png");
    // A strip of another width is refused before the labels are looked at.
    std::vector<int64_t> labels(header.width == cifar10::kPlane ? static_cast<size_t>(header.height) : 0);
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = size > 0 ? data[(i * 7919) % size] % 11 : 0;
    const auto records = cifar10::records_from_png_strip(png, labels, "strip.png");
    if (records.size() != labels.size() * static_cast<size_t>(cifar10::kRecordBytes)) __builtin_trap();
  });
  return 0;
}
