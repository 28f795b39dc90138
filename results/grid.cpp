#include "results/grid.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cmbench::results {

std::vector<uint8_t> encode_grid_png(const uint8_t* images, int64_t count, int64_t height, int64_t width,
                                     int64_t channels, int64_t per_row) {
  if (count <= 0 || height <= 0 || width <= 0 || per_row <= 0 || (channels != 1 && channels != 3)) {
    throw InputError(fmt::format("sample grid: cannot tile {} images of {}x{}x{}", count, height, width, channels));
  }
  const int64_t shown = std::min<int64_t>(count, per_row * per_row);
  const int64_t columns = std::min(shown, per_row);
  const int64_t rows = (shown + per_row - 1) / per_row;
  cv::Mat grid(static_cast<int>(rows * height), static_cast<int>(columns * width), channels == 3 ? CV_8UC3 : CV_8UC1,
               cv::Scalar::all(0));
  const size_t image_bytes = static_cast<size_t>(height * width * channels);
  for (int64_t i = 0; i < shown; ++i) {
    const int64_t top = (i / per_row) * height, left = (i % per_row) * width;
    const uint8_t* image = images + i * image_bytes;
    for (int64_t y = 0; y < height; ++y) {
      uint8_t* row = grid.ptr<uint8_t>(static_cast<int>(top + y)) + left * channels;
      const uint8_t* source = image + y * width * channels;
      for (int64_t x = 0; x < width; ++x) {
        if (channels == 3) {  // OpenCV stores BGR
          row[x * 3 + 0] = source[x * 3 + 2];
          row[x * 3 + 1] = source[x * 3 + 1];
          row[x * 3 + 2] = source[x * 3 + 0];
        } else {
          row[x] = source[x];
        }
      }
    }
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", grid, png, {cv::IMWRITE_PNG_COMPRESSION, 6})) {
    throw InputError("sample grid: PNG encoding failed");
  }
  return std::vector<uint8_t>(png.begin(), png.end());
}

void write_png_file(const std::string& path, const std::vector<uint8_t>& png) {
  atomic_write_bytes(path, png.data(), png.size());
}

}  // namespace cmbench::results
