#include "results/grid.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/png.h"

namespace cmbench::results {

std::vector<uint8_t> encode_grid_png(const uint8_t* images, int64_t count, int64_t height, int64_t width,
                                     int64_t channels, int64_t per_row) {
  if (count <= 0 || height <= 0 || width <= 0 || per_row <= 0 || (channels != 1 && channels != 3)) {
    throw InputError(fmt::format("sample grid: cannot tile {} images of {}x{}x{}", count, height, width, channels));
  }
  const int64_t shown = std::min<int64_t>(count, per_row * per_row);
  const int64_t columns = std::min(shown, per_row);
  const int64_t rows = (shown + per_row - 1) / per_row;
  const size_t image_row_bytes = static_cast<size_t>(width * channels);
  const size_t grid_row_bytes = static_cast<size_t>(columns) * image_row_bytes;
  std::vector<uint8_t> grid(static_cast<size_t>(rows * height) * grid_row_bytes, 0);  // empty cells black
  for (int64_t i = 0; i < shown; ++i) {
    const int64_t top = (i / per_row) * height, left = i % per_row;
    const uint8_t* image = images + static_cast<size_t>(i * height) * image_row_bytes;
    for (int64_t y = 0; y < height; ++y) {
      std::memcpy(grid.data() + static_cast<size_t>(top + y) * grid_row_bytes + left * image_row_bytes,
                  image + y * image_row_bytes, image_row_bytes);
    }
  }
  return encode_png(grid.data(), rows * height, columns * width, channels, 6);
}

void write_png_file(const std::string& path, const std::vector<uint8_t>& png) {
  atomic_write_bytes(path, png.data(), png.size());
}

}  // namespace cmbench::results
