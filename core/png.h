// PNG decoding and encoding for uint8 images in RGB (or grayscale) channel order. OpenCV stores
// colour images as BGR; these functions hide that.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cmbench {

struct PngHeader {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;  // 1 for grayscale (with or without alpha), 3 otherwise (alpha dropped)
};

// Images with more pixels are refused from the IHDR, before anything is allocated for them (the
// bound of data/jpeg_decoder.h kMaxJpegPixels; OpenCV's own is 2^30).
constexpr int64_t kMaxPngPixels = int64_t{1} << 28;

// Reads the IHDR chunk; InputError naming `source` when the bytes do not start a PNG or the image
// has more than kMaxPngPixels pixels.
PngHeader parse_png_header(const uint8_t* data, size_t size, const std::string& source);

// InputError when a PNG file of `file_size` bytes is too small for the pixels its IHDR declares (zlib
// inflates at most about 1032:1), so that what is allocated for an image is bounded by its data.
// `data` holds at least the file's first 26 bytes. Returns the IHDR (as parse_png_header).
PngHeader check_png_data_size(const uint8_t* data, size_t size, uint64_t file_size, const std::string& source);

// Decodes to `channels` (1 or 3) channels, HWC row-major, into `out` (height*width*channels bytes).
// InputError when the data is corrupted or its size is not the expected one.
void decode_png(const uint8_t* data, size_t size, const PngHeader& expected, uint8_t* out,
                const std::string& source);

// Encodes an HWC uint8 image (channels 1 or 3, RGB order) as PNG.
std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t height, int64_t width, int64_t channels,
                                int compression_level = 6);

std::vector<uint8_t> read_file_bytes(const std::string& path);  // InputError when unreadable

}  // namespace cmbench
