#include "data/imagenet_transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.h"
#include "data/pil_resample.h"

namespace cmbench {

namespace {

DecodedImage crop(const DecodedImage& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  DecodedImage out(height, width, image.channels);
  const int64_t row_bytes = width * image.channels;
  for (int64_t y = 0; y < height; ++y) {
    std::memcpy(&out.pixels[static_cast<size_t>(y * row_bytes)],
                &image.pixels[static_cast<size_t>(((top + y) * image.width + left) * image.channels)],
                static_cast<size_t>(row_bytes));
  }
  return out;
}

}  // namespace

TransformSpec parse_transform_spec(const std::string& transform, const std::string& resolution) {
  TransformSpec spec;
  if (transform == "center-crop") {
    spec.transform = ImageTransform::center_crop;
  } else if (transform == "center-crop-dhariwal") {
    spec.transform = ImageTransform::center_crop_dhariwal;
  } else if (!transform.empty()) {
    throw InputError(fmt::format("--transform: unknown mode '{}' (center-crop-dhariwal or center-crop)", transform));
  }
  if (!resolution.empty()) {
    // dataset_tool's parse_tuple: '^(\d+)[x,](\d+)$'.
    std::smatch match;
    static const std::regex pattern(R"(^(\d{1,6})[x,](\d{1,6})$)");
    if (!std::regex_match(resolution, match, pattern) || std::stoll(match[1]) == 0 || std::stoll(match[2]) == 0) {
      throw InputError(fmt::format("--resolution: '{}' is not WxH (e.g. 64x64)", resolution));
    }
    spec.width = std::stoll(match[1]);
    spec.height = std::stoll(match[2]);
  }
  if (!transform.empty() && !spec.has_resolution()) {
    throw InputError(fmt::format("--transform {} needs --resolution WxH", transform));
  }
  if (spec.transform == ImageTransform::center_crop_dhariwal && spec.width != spec.height) {
    throw InputError(fmt::format("--transform center-crop-dhariwal needs a square --resolution, got {}", resolution));
  }
  return spec;
}

DecodedImage to_rgb(DecodedImage image) {
  if (image.channels == 3) return image;
  if (image.channels != 1) throw std::invalid_argument("to_rgb: 1 or 3 channels expected");
  DecodedImage rgb(image.height, image.width, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) std::memset(&rgb.pixels[3 * i], image.pixels[i], 3);
  return rgb;
}

// EDM2 make_transform.center_crop_imagenet, after guided-diffusion's image_datasets.py center_crop_arr.
DecodedImage center_crop_dhariwal(const DecodedImage& rgb, int64_t size) {
  DecodedImage image = rgb;
  while (std::min(image.width, image.height) >= 2 * size) {
    image = pil_resize(image, image.width / 2, image.height / 2, ResampleFilter::box);
  }
  // Python's round() of a float: half to even, as std::nearbyint in the default rounding mode.
  const double scale = static_cast<double>(size) / static_cast<double>(std::min(image.width, image.height));
  const auto scaled = [scale](int64_t x) { return static_cast<int64_t>(std::nearbyint(static_cast<double>(x) * scale)); };
  image = pil_resize(image, scaled(image.width), scaled(image.height), ResampleFilter::bicubic);
  return crop(image, (image.height - size) / 2, (image.width - size) / 2, size, size);
}

// EDM2 make_transform.center_crop (EDM's dataset_tool the same): numpy slice of the centred square.
DecodedImage center_crop_edm(const DecodedImage& rgb, int64_t width, int64_t height) {
  const int64_t side = std::min(rgb.height, rgb.width);
  const DecodedImage square = crop(rgb, (rgb.height - side) / 2, (rgb.width - side) / 2, side, side);
  return pil_resize(square, width, height, ResampleFilter::lanczos);
}

DecodedImage apply_transform(const DecodedImage& rgb, const TransformSpec& spec) {
  switch (spec.transform) {
    case ImageTransform::scale:
      // make_transform.scale: the image itself when the size already matches.
      if (!spec.has_resolution() || (spec.width == rgb.width && spec.height == rgb.height)) return rgb;
      return pil_resize(rgb, spec.width, spec.height, ResampleFilter::lanczos);
    case ImageTransform::center_crop: return center_crop_edm(rgb, spec.width, spec.height);
    case ImageTransform::center_crop_dhariwal: return center_crop_dhariwal(rgb, spec.width);
  }
  throw std::logic_error("apply_transform: unknown transform");
}

}  // namespace cmbench
