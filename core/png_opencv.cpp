// decode_png / encode_png on OpenCV's imgcodecs (CMBENCH_IMAGE_IO=opencv). OpenCV stores colour
// images as BGR; these functions hide that.
#include "core/png.h"

#ifdef CMBENCH_IMAGE_IO_OPENCV

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace cmbench {

void decode_png(const uint8_t* data, size_t size, const PngHeader& expected, uint8_t* out,
                const std::string& source) {
  check_png_data_size(data, size, size, source);
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
  if (channels != 1 && channels != 3)
    throw InputError(fmt::format("PNG: cannot encode an image of {} channels (1 or 3; write an .npz instead)", channels));
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

}  // namespace cmbench

#endif  // CMBENCH_IMAGE_IO_OPENCV
