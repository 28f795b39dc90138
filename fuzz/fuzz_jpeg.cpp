// JPEG decoding (data/jpeg_decoder.h decode_jpeg, libjpeg as Pillow drives it): markers, tables,
// sizes over kMaxJpegPixels refused from the header, truncated and corrupt scans.
#include "data/jpeg_decoder.h"
#include "fuzz/util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cmbench;
  fuzz::init_once();
  for (const bool keep_grayscale : {false, true}) {
    fuzz::expect_contract([&] {
      const DecodedImage image = decode_jpeg(data, size, "input.jpg", keep_grayscale);
      if (image.height * image.width > kMaxJpegPixels) __builtin_trap();
      if (image.pixels.size() != static_cast<size_t>(image.height * image.width * image.channels)) __builtin_trap();
    });
  }
  return 0;
}
