#include "data/png.h"

#include <fstream>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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
  return header;
}

void decode_png(const uint8_t* data, size_t size, const PngHeader& expected, uint8_t* out,
                const std::string& source) {
  const cv::Mat encoded(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
  cv::Mat image;
  try {
    image = cv::imdecode(encoded, expected.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    image = cv::Mat();
  }
  if (image.empty()) throw InputError(fmt::format("{}: corrupted PNG (cannot decode)", source));
  if (image.rows != expected.height || image.cols != expected.width) {
    throw InputError(fmt::format("{}: image is {}x{}, expected {}x{} (mixed resolutions)", source, image.cols,
                                 image.rows, expected.width, expected.height));
  }
  cv::Mat target(image.rows, image.cols, expected.channels == 1 ? CV_8UC1 : CV_8UC3, out);
  if (expected.channels == 1) {
    image.copyTo(target);
  } else {
    cv::cvtColor(image, target, cv::COLOR_BGR2RGB);
  }
}

std::vector<uint8_t> encode_png(const uint8_t* pixels, int64_t height, int64_t width, int64_t channels,
                                int compression_level) {
  const cv::Mat rgb(static_cast<int>(height), static_cast<int>(width), channels == 1 ? CV_8UC1 : CV_8UC3,
                    const_cast<uint8_t*>(pixels));
  cv::Mat bgr;
  if (channels == 1) {
    bgr = rgb;
  } else {
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  }
  std::vector<uint8_t> encoded;
  if (!cv::imencode(".png", bgr, encoded, {cv::IMWRITE_PNG_COMPRESSION, compression_level})) {
    throw std::runtime_error("PNG encoding failed");
  }
  return encoded;
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
