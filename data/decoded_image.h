// One decoded image of its own size (the raw files of an image folder differ in size): uint8, HWC
// row-major, 1 (grayscale) or 3 (RGB) channels.
#pragma once

#include <cstdint>
#include <vector>

namespace cmbench {

struct DecodedImage {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels bytes

  DecodedImage() = default;
  DecodedImage(int64_t height, int64_t width, int64_t channels)
      : height(height), width(width), channels(channels),
        pixels(static_cast<size_t>(height * width * channels)) {}
};

}  // namespace cmbench
