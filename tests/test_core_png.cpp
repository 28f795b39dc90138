// decode_png / encode_png on committed fixtures (tests/data/png, made by make_fixtures.py without an
// image library): the same exact pixels whichever backend CMBENCH_IMAGE_IO selects.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/png.h"
#include "test_util.h"

namespace cmbench {
namespace {

std::string fixture(const std::string& name) { return test::source_path("tests/data/png/" + name); }

struct Decoded {
  PngHeader header;
  std::vector<uint8_t> pixels;
};

// Decodes to the header's channel count unless `channels` asks for another.
Decoded decode_fixture(const std::string& name, int64_t channels = 0) {
  const auto bytes = read_file_bytes(fixture(name));
  Decoded decoded;
  decoded.header = parse_png_header(bytes.data(), bytes.size(), name);
  if (channels != 0) decoded.header.channels = channels;
  decoded.pixels.resize(static_cast<size_t>(decoded.header.height * decoded.header.width * decoded.header.channels));
  decode_png(bytes.data(), bytes.size(), decoded.header, decoded.pixels.data(), name);
  return decoded;
}

// The HWC image of `f(x, y)`, each call giving one pixel's samples.
std::vector<uint8_t> image_of(int64_t width, int64_t height, const std::function<std::vector<int>(int64_t, int64_t)>& f) {
  std::vector<uint8_t> out;
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int v : f(x, y)) out.push_back(static_cast<uint8_t>(v));
    }
  }
  return out;
}

std::vector<int> rgb_pixel(int64_t x, int64_t y) {  // rgb.png
  return {static_cast<int>(10 + 80 * x), static_cast<int>(200 - 90 * y), static_cast<int>(40 * x + 30 * y)};
}

TEST(CorePng, EncodingRefusesChannelCountsPngDoesNotHold) {
  const std::vector<uint8_t> pixels(4 * 4 * 4, 7);
  for (const int64_t channels : {0, 2, 4}) EXPECT_THROW(encode_png(pixels.data(), 4, 4, channels), InputError) << channels;
}

TEST(CorePng, GrayIsOneChannel) {
  const auto d = decode_fixture("gray.png");
  EXPECT_EQ(d.header.width, 4);
  EXPECT_EQ(d.header.height, 3);
  EXPECT_EQ(d.header.channels, 1);
  EXPECT_EQ(d.pixels, image_of(4, 3, [](int64_t x, int64_t y) { return std::vector<int>{static_cast<int>(x * 60 + y * 7)}; }));
}

TEST(CorePng, GrayAsRgbRepeatsTheValue) {
  const auto d = decode_fixture("gray.png", 3);
  EXPECT_EQ(d.pixels, image_of(4, 3, [](int64_t x, int64_t y) {
              const int v = static_cast<int>(x * 60 + y * 7);
              return std::vector<int>{v, v, v};
            }));
}

TEST(CorePng, GrayAlphaDropsAlpha) {
  const auto d = decode_fixture("gray_alpha.png");
  EXPECT_EQ(d.header.channels, 1);
  EXPECT_EQ(d.pixels, image_of(3, 2, [](int64_t x, int64_t y) { return std::vector<int>{static_cast<int>(x * 100 + y * 20)}; }));
}

TEST(CorePng, LowBitDepthGrayIsScaledToEightBits) {
  const auto d = decode_fixture("gray_2bit.png");
  EXPECT_EQ(d.pixels, image_of(5, 2, [](int64_t x, int64_t y) { return std::vector<int>{static_cast<int>((x + y) % 4 * 85)}; }));
}

TEST(CorePng, SixteenBitSamplesKeepTheirHighByte) {
  // png_set_strip_16 as in OpenCV: 0x12FF becomes 0x12 (rounding 0x12FF * 255 / 65535 would give 0x13).
  EXPECT_EQ(decode_fixture("gray_16bit.png").pixels, (std::vector<uint8_t>{0x12, 0x80, 0xFF}));
  EXPECT_EQ(decode_fixture("rgb_16bit.png").pixels, (std::vector<uint8_t>{0x12, 0x00, 0xFF, 0xAB, 0x00, 0x7F}));
}

TEST(CorePng, RgbInRgbOrder) {
  const auto d = decode_fixture("rgb.png");
  EXPECT_EQ(d.header.channels, 3);
  EXPECT_EQ(d.pixels, image_of(3, 2, rgb_pixel));
}

TEST(CorePng, RgbaDropsAlphaWithoutCompositing) {
  const auto d = decode_fixture("rgba.png");
  EXPECT_EQ(d.header.channels, 3);
  EXPECT_EQ(d.pixels, image_of(3, 2, [](int64_t x, int64_t y) {
              return std::vector<int>{static_cast<int>(250 - 70 * x), static_cast<int>(5 + 100 * y), 128};
            }));
}

TEST(CorePng, PaletteIsExpandedAndItsTransparencyDropped) {
  const std::vector<std::vector<int>> palette = {{0, 0, 0}, {255, 0, 0}, {0, 200, 0}, {10, 20, 250}, {255, 255, 255}};
  const auto d = decode_fixture("palette.png");
  EXPECT_EQ(d.header.channels, 3);
  EXPECT_EQ(d.pixels, image_of(4, 2, [&](int64_t x, int64_t y) { return palette[static_cast<size_t>((x + 2 * y) % 5)]; }));
}

TEST(CorePng, InterlacedIsDeinterlaced) {
  const auto d = decode_fixture("interlaced.png");
  EXPECT_EQ(d.pixels, image_of(9, 9, [](int64_t x, int64_t y) {
              return std::vector<int>{static_cast<int>(x * 28), static_cast<int>(y * 28), static_cast<int>((x * 9 + y) % 256)};
            }));
}

TEST(CorePng, ColourAsGrayUsesOpenCvsPngWeights) {
  // OpenCV's PNG reader converts in libpng (png_set_rgb_to_gray 0.299/0.587: 15-bit weights 9797,
  // 19234, 3737, truncated), not with cvtColor's rounded 14-bit weights 4899, 9617, 1868.
  const auto d = decode_fixture("rgb.png", 1);
  const auto png_gray = image_of(3, 2, [](int64_t x, int64_t y) {
    const auto p = rgb_pixel(x, y);
    return std::vector<int>{(9797 * p[0] + 19234 * p[1] + 3737 * p[2]) >> 15};
  });
  const auto cvtcolor_gray = image_of(3, 2, [](int64_t x, int64_t y) {
    const auto p = rgb_pixel(x, y);
    return std::vector<int>{(4899 * p[0] + 9617 * p[1] + 1868 * p[2] + (1 << 13)) >> 14};
  });
  EXPECT_EQ(d.pixels, png_gray);
  EXPECT_NE(png_gray, cvtcolor_gray);  // the fixture tells the two conversions apart
}

TEST(CorePng, ExifOrientationIsApplied) {
  // Orientation 6 (rotate 90 degrees clockwise): OpenCV shows the 3x2 image as 2x3, so a reader that
  // expects the IHDR size calls it a mixed resolution.
  const auto bytes = read_file_bytes(fixture("exif_rotated.png"));
  const PngHeader stored = parse_png_header(bytes.data(), bytes.size(), "exif_rotated.png");
  ASSERT_EQ(stored.width, 3);
  std::vector<uint8_t> out(18);
  const auto message = test::input_error_message(
      [&] { decode_png(bytes.data(), bytes.size(), stored, out.data(), "exif_rotated.png"); });
  EXPECT_NE(message.find("exif_rotated.png: image is 2x3, expected 3x2"), std::string::npos) << message;

  PngHeader shown = stored;
  std::swap(shown.width, shown.height);
  decode_png(bytes.data(), bytes.size(), shown, out.data(), "exif_rotated.png");
  EXPECT_EQ(out, image_of(2, 3, [](int64_t x, int64_t y) { return rgb_pixel(y, 1 - x); }));
}

TEST(CorePng, CorruptedDataNamesTheSource) {
  const auto bytes = read_file_bytes(fixture("interlaced.png"));
  const PngHeader header = parse_png_header(bytes.data(), bytes.size(), "interlaced.png");
  std::vector<uint8_t> out(static_cast<size_t>(header.height * header.width * header.channels));
  const auto decode = [&](const std::vector<uint8_t>& data) {
    return test::input_error_message([&] { decode_png(data.data(), data.size(), header, out.data(), "shard/7.png"); });
  };
  const std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
  EXPECT_EQ(decode(truncated), "shard/7.png: corrupted PNG (cannot decode)");
  auto flipped = bytes;
  flipped[bytes.size() - 30] ^= 0x40;  // inside IDAT: its CRC no longer matches
  EXPECT_EQ(decode(flipped), "shard/7.png: corrupted PNG (cannot decode)");

  PngHeader wider = header;
  wider.width += 1;
  const auto message = test::input_error_message(
      [&] { decode_png(bytes.data(), bytes.size(), wider, out.data(), "shard/7.png"); });
  EXPECT_EQ(message, "shard/7.png: image is 9x9, expected 10x9 (mixed resolutions)");
}

TEST(CorePng, EncodeThenDecodeRoundTrips) {
  for (const int64_t channels : {1, 3}) {
    for (const int level : {0, 6, 9}) {
      const int64_t width = 7, height = 5;
      std::vector<uint8_t> pixels(static_cast<size_t>(width * height * channels));
      for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
      const auto png = encode_png(pixels.data(), height, width, channels, level);
      EXPECT_EQ(png, encode_png(pixels.data(), height, width, channels, level));  // deterministic
      const PngHeader header = parse_png_header(png.data(), png.size(), "round-trip");
      EXPECT_EQ(header.width, width);
      EXPECT_EQ(header.height, height);
      EXPECT_EQ(header.channels, channels);
      EXPECT_EQ(png[24], 8);                        // bit depth
      EXPECT_EQ(png[25], channels == 1 ? 0 : 2);    // colour type: gray or RGB, no alpha
      std::vector<uint8_t> decoded(pixels.size());
      decode_png(png.data(), png.size(), header, decoded.data(), "round-trip");
      EXPECT_EQ(decoded, pixels) << channels << " channels, level " << level;
    }
  }
}

TEST(CorePng, OversizedHeadersAreRefusedBeforeDecoding) {
  auto bytes = read_file_bytes(fixture("gray.png"));
  const auto set_size = [&](uint32_t width, uint32_t height) {
    for (int i = 0; i < 4; ++i) {
      bytes[16 + i] = static_cast<uint8_t>(width >> (24 - 8 * i));
      bytes[20 + i] = static_cast<uint8_t>(height >> (24 - 8 * i));
    }
  };
  set_size(65536, 4097);
  EXPECT_EQ(test::input_error_message([&] { parse_png_header(bytes.data(), bytes.size(), "big.png"); }),
            "big.png: PNG of 65536x4097 pixels is larger than the 268435456 pixels cmbench decodes");
  set_size(16384, 16384);  // at the limit, but a few bytes cannot hold it
  const PngHeader header = parse_png_header(bytes.data(), bytes.size(), "big.png");
  std::vector<uint8_t> out(1);
  EXPECT_EQ(test::input_error_message([&] { decode_png(bytes.data(), bytes.size(), header, out.data(), "big.png"); }),
            fmt::format("big.png: PNG declares 16384x16384 pixels, more than its {} bytes can hold (corrupted)",
                        bytes.size()));
}

}  // namespace
}  // namespace cmbench
