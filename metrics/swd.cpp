#include "metrics/swd.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/numpy_random.h"

namespace cmbench {

namespace F = torch::nn::functional;

namespace {

torch::Tensor gaussian_kernel(int64_t channels, double gain) {
  const auto taps = torch::tensor({1.0, 4.0, 6.0, 4.0, 1.0}, torch::kFloat64);
  auto k = (torch::outer(taps, taps) / 256.0 * gain).to(torch::kFloat32);
  return k.view({1, 1, 5, 5}).repeat({channels, 1, 1, 1});
}

torch::Tensor blur(const torch::Tensor& x, double gain) {
  // reflect padding = scipy.ndimage mode 'mirror' = OpenCV BORDER_REFLECT_101.
  const auto padded = F::pad(x, F::PadFuncOptions({2, 2, 2, 2}).mode(torch::kReflect));
  return F::conv2d(padded, gaussian_kernel(x.size(1), gain).to(x.device()), F::Conv2dFuncOptions().groups(x.size(1)));
}

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// (rows, C * 7 * 7) patches at the given centers; row r belongs to image r / per_image.
torch::Tensor gather_descriptors(const torch::Tensor& level, const torch::Tensor& xs, const torch::Tensor& ys,
                                 int64_t nhood, int64_t per_image) {
  const int64_t n = level.size(0), c = level.size(1), h = level.size(2), w = level.size(3);
  const int64_t half = nhood / 2;
  const auto offsets = torch::arange(-half, half + 1, torch::kInt64);
  const auto rows = xs.size(0);
  const auto image = torch::arange(rows, torch::kInt64).div(per_image, "floor");
  // index = ((img * C + chan) * H + y) * W + x, shape (rows, C, nhood, nhood)
  const auto chan = torch::arange(c, torch::kInt64).view({1, c, 1, 1});
  const auto y = ys.view({rows, 1, 1, 1}) + offsets.view({1, 1, nhood, 1});
  const auto x = xs.view({rows, 1, 1, 1}) + offsets.view({1, 1, 1, nhood});
  const auto index = ((image.view({rows, 1, 1, 1}) * c + chan) * h + y) * w + x;
  (void)n;
  // The index is built on the CPU from the CPU draws; index_select wants it on the images' device.
  return level.contiguous().view(-1).index_select(0, index.view(-1).to(level.device())).view({rows, c * nhood * nhood});
}

// Per-channel standardization over all descriptors and positions (population std).
torch::Tensor normalize_descriptors(const torch::Tensor& desc, int64_t channels) {
  auto d = desc.view({desc.size(0), channels, -1}).to(torch::kFloat64);
  const std::vector<int64_t> dims{0, 2};
  const auto mean = d.mean(dims, /*keepdim=*/true);
  auto std = (d - mean).square().mean(dims, /*keepdim=*/true).sqrt();
  std = torch::where(std > 0, std, torch::ones_like(std));  // a constant channel stays 0, not NaN
  return ((d - mean) / std).view({desc.size(0), -1}).to(torch::kFloat32);
}

}  // namespace

torch::Tensor pyr_down(const torch::Tensor& images) {
  return blur(images, 1.0).slice(2, 0, c10::nullopt, 2).slice(3, 0, c10::nullopt, 2).contiguous();
}

torch::Tensor pyr_up(const torch::Tensor& images) {
  auto up = torch::zeros({images.size(0), images.size(1), images.size(2) * 2, images.size(3) * 2}, images.options());
  up.slice(2, 0, c10::nullopt, 2).slice(3, 0, c10::nullopt, 2).copy_(images);
  return blur(up, 4.0);
}

std::vector<torch::Tensor> laplacian_pyramid(const torch::Tensor& images, int64_t num_levels) {
  std::vector<torch::Tensor> pyramid{images};
  for (int64_t i = 1; i < num_levels; ++i) {
    auto smaller = pyr_down(pyramid.back());
    pyramid.back() = pyramid.back() - pyr_up(smaller);
    pyramid.push_back(smaller);
  }
  return pyramid;
}

SwdResult sliced_wasserstein(const torch::Tensor& images_a, const torch::Tensor& images_b, const SwdOptions& options) {
  for (const auto* images : {&images_a, &images_b}) {
    if (images->dim() != 4 || images->scalar_type() != torch::kUInt8 || images->size(3) != 3) {
      throw InputError("SWD: images must be uint8 (N, H, W, 3)");
    }
  }
  if (images_a.size(1) != images_b.size(1) || images_a.size(2) != images_b.size(2)) {
    throw InputError(fmt::format("SWD: image sizes differ ({}x{} vs {}x{})", images_a.size(1), images_a.size(2),
                                 images_b.size(1), images_b.size(2)));
  }
  const int64_t size = images_a.size(1);
  if (images_a.size(2) != size || !is_power_of_two(size) || size < options.min_resolution()) {
    throw InputError(fmt::format("SWD: images must be square with a power-of-two side >= {}, found {}x{}",
                                 options.min_resolution(), images_a.size(1), images_a.size(2)));
  }
  const int64_t n = std::min(images_a.size(0), images_b.size(0));
  if (n < 1) throw InputError("SWD: no images");
  int64_t num_levels = 0;
  SwdResult result;
  for (int64_t s = size; s >= options.min_resolution(); s /= 2) {
    result.resolutions.push_back(s);
    ++num_levels;
  }
  auto to_float = [&](const torch::Tensor& x) { return x.slice(0, 0, n).permute({0, 3, 1, 2}).to(torch::kFloat32).contiguous(); };
  const auto pyramid_a = laplacian_pyramid(to_float(images_a), num_levels);
  const auto pyramid_b = laplacian_pyramid(to_float(images_b), num_levels);

  NumpyRandomState rng(static_cast<uint32_t>(options.seed()));
  const int64_t half = options.nhood_size() / 2;
  const int64_t rows = n * options.nhoods_per_image();
  for (int64_t level = 0; level < num_levels; ++level) {
    const int64_t s = result.resolutions[static_cast<size_t>(level)];
    // Centers drawn once and shared by both sets (x for all rows, then y, as PGGAN draws them).
    std::vector<int64_t> xs(static_cast<size_t>(rows)), ys(static_cast<size_t>(rows));
    for (auto& v : xs) v = rng.randint(half, s - half);
    for (auto& v : ys) v = rng.randint(half, s - half);
    const auto xt = torch::tensor(xs, torch::kInt64), yt = torch::tensor(ys, torch::kInt64);
    const auto desc_a = normalize_descriptors(
        gather_descriptors(pyramid_a[level], xt, yt, options.nhood_size(), options.nhoods_per_image()), 3);
    const auto desc_b = normalize_descriptors(
        gather_descriptors(pyramid_b[level], xt, yt, options.nhood_size(), options.nhoods_per_image()), 3);
    const int64_t dims = desc_a.size(1);
    double total = 0.0;
    for (int64_t repeat = 0; repeat < options.dir_repeats(); ++repeat) {
      // randn(dims, dirs) in row-major draw order, each column normalized to unit length.
      std::vector<double> values(static_cast<size_t>(dims * options.dirs_per_repeat()));
      for (auto& v : values) v = rng.gauss();
      auto dirs = torch::tensor(values, torch::kFloat64).view({dims, options.dirs_per_repeat()});
      dirs = (dirs / dirs.square().sum(0, true).sqrt()).to(desc_a.device(), torch::kFloat32);
      const auto proj_a = std::get<0>(torch::matmul(desc_a, dirs).sort(0));
      const auto proj_b = std::get<0>(torch::matmul(desc_b, dirs).sort(0));
      total += (proj_a - proj_b).abs().to(torch::kFloat64).mean().item<double>();
    }
    result.levels.push_back(total / static_cast<double>(options.dir_repeats()) * 1e3);
  }
  for (double v : result.levels) result.average += v;
  result.average /= static_cast<double>(result.levels.size());
  return result;
}

}  // namespace cmbench
