// Backend-neutral PNG helpers; decode_png and encode_png live in png_opencv.cpp or png_libpng.cpp
// (CMBENCH_IMAGE_IO selects which one is compiled).
#include "core/png.h"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "core/deflate.h"
#include "core/error.h"

namespace cmbench {

namespace {

uint32_t big_endian_u32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

}  // namespace

PngHeader parse_png_header(const uint8_t* data, size_t size, const std::string& source) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < 26 || !std::equal(kSignature, kSignature + 8, data) || std::string(data + 12, data + 16) != "IHDR") {
    throw InputError(fmt::format("{}: not a PNG image", source));
  }
  PngHeader header;
  header.width = big_endian_u32(data + 16);
  header.height = big_endian_u32(data + 20);
  const int color_type = data[25];
  header.channels = (color_type == 0 || color_type == 4) ? 1 : 3;
  if (header.width <= 0 || header.height <= 0) throw InputError(fmt::format("{}: PNG with an empty image", source));
  if (header.width > kMaxPngPixels || header.height > kMaxPngPixels || header.width * header.height > kMaxPngPixels) {
    throw InputError(fmt::format("{}: PNG of {}x{} pixels is larger than the {} pixels cmbench decodes", source,
                                 header.width, header.height, kMaxPngPixels));
  }
  return header;
}

PngHeader check_png_data_size(const uint8_t* data, size_t size, uint64_t file_size, const std::string& source) {
  const PngHeader header = parse_png_header(data, size, source);
  const int bit_depth = data[24];
  const int color_type = data[25];
  const int samples = color_type == 0 ? 1 : color_type == 2 ? 3 : color_type == 3 ? 1 : color_type == 4 ? 2
                    : color_type == 6 ? 4 : 0;
  if (samples == 0 || (bit_depth != 1 && bit_depth != 2 && bit_depth != 4 && bit_depth != 8 && bit_depth != 16)) {
    throw InputError(fmt::format("{}: corrupted PNG (bit depth {}, colour type {})", source, bit_depth, color_type));
  }
  // Each row is a filter byte and its packed samples (interlacing only adds bytes).
  const uint64_t row_bytes = 1 + (static_cast<uint64_t>(header.width) * samples * bit_depth + 7) / 8;
  const uint64_t raw_bytes = row_bytes * static_cast<uint64_t>(header.height);
  if (raw_bytes / kMaxDeflateRatio > file_size) {
    throw InputError(fmt::format("{}: PNG declares {}x{} pixels, more than its {} bytes can hold (corrupted)", source,
                                 header.width, header.height, file_size));
  }
  return header;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", path));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    throw InputError(fmt::format("{}: read failed", path));
  }
  return bytes;
}

}  // namespace cmbench
