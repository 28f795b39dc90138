// Sample grids (results/grid.h): tiling, 8 per row and at most 64, encoded by the one PNG codec
// (core/png.h) and read back from the file write_png_file leaves.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/png.h"
#include "results/grid.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

// Image i of an (count, h, w, c) batch: every byte tells the image, row, column and channel apart.
std::vector<uint8_t> numbered_images(int64_t count, int64_t h, int64_t w, int64_t c) {
  std::vector<uint8_t> pixels(static_cast<size_t>(count * h * w * c));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + i / 251) % 256);
  return pixels;
}

std::vector<uint8_t> decode(const std::vector<uint8_t>& png, PngHeader* header) {
  *header = parse_png_header(png.data(), png.size(), "grid");
  std::vector<uint8_t> out(static_cast<size_t>(header->height * header->width * header->channels));
  decode_png(png.data(), png.size(), *header, out.data(), "grid");
  return out;
}

}  // namespace

TEST(ResultsGrid, TilesEightPerRow) {
  std::vector<uint8_t> pixels(70 * 2 * 2 * 3, 200);
  const auto png = encode_grid_png(pixels.data(), 70, 2, 2, 3);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png[1], 'P');
  // IHDR width and height (big-endian) at bytes 16..23: 8 columns x 8 rows of 2x2 images.
  EXPECT_EQ(png[19], 16);
  EXPECT_EQ(png[23], 16);
  const auto small = encode_grid_png(pixels.data(), 3, 2, 2, 3);
  EXPECT_EQ(small[19], 6);
  EXPECT_EQ(small[23], 2);
  EXPECT_EQ(encode_grid_png(pixels.data(), 70, 2, 2, 3), png);
}

// Decoding the grid gives back every pixel of every image in its cell, and black in empty cells.
TEST(ResultsGrid, DecodesToTheTiledImages) {
  for (const int64_t channels : {1, 3}) {
    SCOPED_TRACE(channels);
    const int64_t count = 11, h = 3, w = 5;
    const auto images = numbered_images(count, h, w, channels);
    test::TempDir dir;
    write_png_file(dir.file("grid.png"), encode_grid_png(images.data(), count, h, w, channels));
    const auto png = read_file_bytes(dir.file("grid.png"));
    PngHeader header;
    const auto grid = decode(png, &header);
    ASSERT_EQ(header.width, 8 * w);
    ASSERT_EQ(header.height, 2 * h);
    ASSERT_EQ(header.channels, channels);
    for (int64_t cell = 0; cell < 16; ++cell) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          for (int64_t c = 0; c < channels; ++c) {
            const int64_t gy = (cell / 8) * h + y, gx = (cell % 8) * w + x;
            const uint8_t got = grid[static_cast<size_t>((gy * header.width + gx) * channels + c)];
            const uint8_t want = cell < count ? images[static_cast<size_t>(((cell * h + y) * w + x) * channels + c)] : 0;
            ASSERT_EQ(got, want) << "cell " << cell << " y " << y << " x " << x << " c " << c;
          }
        }
      }
    }
  }
}

TEST(ResultsGrid, BadShapesAreInputErrors) {
  const std::vector<uint8_t> pixels(4 * 4 * 4, 0);
  EXPECT_THROW(encode_grid_png(pixels.data(), 0, 4, 4, 3), InputError);
  EXPECT_THROW(encode_grid_png(pixels.data(), 1, 4, 4, 4), InputError);
}
