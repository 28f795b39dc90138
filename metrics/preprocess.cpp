#include "metrics/preprocess.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace cmbench {

namespace {

constexpr int64_t kInceptionSize = 299;

// Source indices and weights of one axis, computed in float32 as TF1's legacy kernel does.
struct AxisTaps {
  torch::Tensor lo, hi;  // int64 (out)
  torch::Tensor weight;  // float32 (out)
};

AxisTaps tf_axis_taps(int64_t in, int64_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<int64_t> lo(out), hi(out);
  std::vector<float> weight(out);
  for (int64_t i = 0; i < out; ++i) {
    const float src = static_cast<float>(i) * scale;
    const float floor_src = std::floor(src);
    lo[i] = static_cast<int64_t>(floor_src);
    hi[i] = std::min(lo[i] + 1, in - 1);
    weight[i] = src - floor_src;
  }
  AxisTaps taps;
  taps.lo = torch::tensor(lo, torch::kInt64);
  taps.hi = torch::tensor(hi, torch::kInt64);
  taps.weight = torch::tensor(weight, torch::kFloat32);
  return taps;
}

}  // namespace

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "tf") return ResizeMode::tf;
  if (name == "pytorch") return ResizeMode::pytorch;
  throw InputError(fmt::format("unknown preprocessing mode '{}' (tf or pytorch)", name));
}

std::string resize_mode_name(ResizeMode mode) { return mode == ResizeMode::tf ? "tf" : "pytorch"; }

torch::Tensor tf_legacy_resize(const torch::Tensor& images, int64_t out_h, int64_t out_w) {
  if (images.dim() != 4 || images.scalar_type() != torch::kFloat32) {
    throw InputError("tf_legacy_resize: expected float32 (N, C, H, W)");
  }
  const auto device = images.device();
  const auto x_taps = tf_axis_taps(images.size(3), out_w);
  const auto y_taps = tf_axis_taps(images.size(2), out_h);
  const auto x_lo = x_taps.lo.to(device), x_hi = x_taps.hi.to(device), wx = x_taps.weight.to(device);
  const auto y_lo = y_taps.lo.to(device), y_hi = y_taps.hi.to(device);
  const auto wy = y_taps.weight.to(device).view({-1, 1});
  // Along x on every input row: (N, C, H, out_w).
  const auto left = images.index_select(3, x_lo);
  const auto right = images.index_select(3, x_hi);
  const auto rows = left + (right - left) * wx;
  // Then along y.
  const auto top = rows.index_select(2, y_lo);
  const auto bottom = rows.index_select(2, y_hi);
  return top + (bottom - top) * wy;
}

torch::Tensor preprocess_for_inception(const torch::Tensor& images_nhwc, ResizeMode mode) {
  if (images_nhwc.dim() != 4 || images_nhwc.scalar_type() != torch::kUInt8 ||
      (images_nhwc.size(3) != 1 && images_nhwc.size(3) != 3)) {
    throw InputError(fmt::format("Inception input must be uint8 (N, H, W, 1 or 3), found {} {}",
                                 std::string(c10::toString(images_nhwc.scalar_type())),
                                 fmt::join(images_nhwc.sizes(), "x")));
  }
  auto x = images_nhwc.permute({0, 3, 1, 2}).to(torch::kFloat32);
  if (x.size(1) == 1) x = x.expand({-1, 3, -1, -1});
  x = x.contiguous();
  if (mode == ResizeMode::tf) {
    if (x.size(2) != kInceptionSize || x.size(3) != kInceptionSize) {
      x = tf_legacy_resize(x, kInceptionSize, kInceptionSize);
    }
    return (x - 128.0f) / 128.0f;
  }
  x = x / 255.0f;
  if (x.size(2) != kInceptionSize || x.size(3) != kInceptionSize) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{kInceptionSize, kInceptionSize})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  return 2.0f * x - 1.0f;
}

}  // namespace cmbench
