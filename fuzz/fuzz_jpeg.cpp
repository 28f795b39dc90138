// JPEG decoding (data/jpeg_decoder.h decode_jpeg, libjpeg as Pillow drives it): markers, tables,
// sizes over kMaxJpegPixels refused from the header, truncated and corrupt scans.
#include "data/jpeg_decoder.h"
#include "fuzz/util.h"

namespace {

// The pixels the first start-of-frame marker declares (0 when there is none).
int64_t declared_pixels(const uint8_t* data, size_t size) {
  for (size_t i = 2; i + 8 < size; ++i) {
    const uint8_t marker = data[i + 1];
    if (data[i] == 0xFF && marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      return int64_t{data[i + 5] << 8 | data[i + 6]} * int64_t{data[i + 7] << 8 | data[i + 8]};
    }
  }
  return 0;
}

// A few hundred bytes may declare up to kMaxJpegPixels of corrupt scan, which libjpeg (and PIL)
// decodes in full, taking seconds: the limit itself is a unit test (tests/test_data_imagenet_transforms.cpp);
// here such inputs would only slow the search down.
constexpr int64_t kMaxFuzzedPixels = int64_t{1} << 22;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  if (declared_pixels(data, size) > kMaxFuzzedPixels) return 0;
  for (const bool keep_grayscale : {false, true}) {
    fuzz::expect_contract([&] {
      const DecodedImage image = decode_jpeg(data, size, "input.jpg", keep_grayscale);
      if (image.height * image.width > kMaxJpegPixels) __builtin_trap();
      if (image.pixels.size() != static_cast<size_t>(image.height * image.width * image.channels)) __builtin_trap();
    });
  }
  return 0;
}
