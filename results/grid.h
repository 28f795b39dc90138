// Sample grids: up to 64 images tiled 8 per row into one PNG (DESIGN.md: 8x8 per stage and NFE).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench::results {

// `images` is uint8 NHWC (channels 1 or 3, RGB); the first min(count, 64) images are tiled 8 per
// row. Returns the PNG file bytes (deterministic for equal input).
std::vector<uint8_t> encode_grid_png(const uint8_t* images, int64_t count, int64_t height, int64_t width,
                                     int64_t channels, int64_t per_row = 8);

// Writes the bytes atomically.
void write_png_file(const std::string& path, const std::vector<uint8_t>& png);

}  // namespace cmbench::results
