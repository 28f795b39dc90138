// Inception Score (closed_forms.json toy, splits, shuffle) and the sliced Wasserstein distance's
// properties (METRICS.md §5).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/numpy_random.h"
#include "metrics/inception_score.h"
#include "metrics/swd.h"
#include "test_util.h"

namespace cmbench {
namespace {

TEST(InceptionScore, ToyClosedForms) {
  const auto doc = nlohmann::json::parse(test::read_text(test::vector_path("closed_forms.json")));
  const auto& toy = doc.at("inception_score_toy");
  const auto rows = toy.at("probs").get<std::vector<std::vector<double>>>();
  auto probs = torch::empty({4, 2}, torch::kFloat64);
  for (int i = 0; i < 4; ++i)
    for (int k = 0; k < 2; ++k) probs[i][k] = rows[i][k];
  const auto one = inception_score_from_probs(probs, 1);
  EXPECT_NEAR(one.mean, toy.at("splits1").get<double>(), 1e-9);
  EXPECT_EQ(one.std, 0.0);
  const auto two = inception_score_from_probs(probs, 2);
  EXPECT_NEAR(two.mean, toy.at("splits2_mean").get<double>(), 1e-9);
  EXPECT_NEAR(two.std, toy.at("splits2_std_ddof0").get<double>(), 1e-9);
  // The same through logits: log p + const are logits of p.
  const auto from_logits = inception_score_from_logits(torch::log(probs) + 3.0, 2);
  EXPECT_NEAR(from_logits.mean, two.mean, 1e-12);
  EXPECT_NEAR(from_logits.std, two.std, 1e-12);
}

TEST(InceptionScore, ShuffleSeedReordersByNumpyPermutation) {
  auto gen = at::detail::createCPUGenerator(11);
  const auto logits = torch::randn({30, 7}, gen, torch::kFloat64) * 3;
  const auto perm = NumpyRandomState(2020).permutation(30);
  const auto manual = inception_score_from_logits(logits.index_select(0, torch::tensor(perm, torch::kInt64)), 10);
  const auto shuffled = inception_score_from_logits(logits, 10, 2020u);
  EXPECT_DOUBLE_EQ(shuffled.mean, manual.mean);
  EXPECT_DOUBLE_EQ(shuffled.std, manual.std);
  const auto plain = inception_score_from_logits(logits, 10);
  EXPECT_NE(plain.std, shuffled.std);
  // One split of everything does not depend on the order.
  EXPECT_NEAR(inception_score_from_logits(logits, 1, 2020u).mean, inception_score_from_logits(logits, 1).mean, 1e-12);
  // Bounds: 1 <= IS <= number of classes.
  EXPECT_GE(plain.mean, 1.0);
  EXPECT_LE(plain.mean, 7.0);
  EXPECT_THROW(inception_score_from_logits(logits, 31), InputError);
}

torch::Tensor smooth_images(int64_t n, int64_t size, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto x = torch::rand({n, 3, size / 4, size / 4}, gen, torch::kFloat32) * 200 + 28;
  namespace F = torch::nn::functional;
  x = F::interpolate(x, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{size, size})
                            .mode(torch::kBilinear)
                            .align_corners(false));
  return x.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

torch::Tensor add_noise(const torch::Tensor& images, double sigma, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto noise = torch::randn(images.sizes(), gen, torch::kFloat32) * sigma;
  return (images.to(torch::kFloat32) + noise).round().clamp(0, 255).to(torch::kUInt8);
}

TEST(Swd, PyramidReconstructsAndKeepsConstants) {
  const auto img = smooth_images(2, 32, 1).permute({0, 3, 1, 2}).to(torch::kFloat32);
  const auto pyramid = laplacian_pyramid(img, 2);
  ASSERT_EQ(pyramid.size(), 2u);
  EXPECT_EQ(pyramid[1].size(2), 16);
  // current = band + pyr_up(smaller)
  EXPECT_TRUE(torch::allclose(pyramid[0] + pyr_up(pyramid[1]), img, 1e-4, 1e-3));
  // Constant images have zero Laplacian bands (reflect-101 borders keep the filter's parity sums).
  const auto flat = torch::full({1, 3, 32, 32}, 77.0f);
  EXPECT_LT(laplacian_pyramid(flat, 2)[0].abs().max().item<float>(), 1e-4f);
}

TEST(Swd, IdenticalSetsGiveExactlyZero) {
  const auto a = smooth_images(16, 32, 2);
  const auto r = sliced_wasserstein(a, a.clone());
  ASSERT_EQ(r.levels.size(), 2u);
  EXPECT_EQ(r.resolutions, (std::vector<int64_t>{32, 16}));
  for (double v : r.levels) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(r.average, 0.0);
}

TEST(Swd, DeterministicAndSeeded) {
  const auto a = smooth_images(16, 32, 3), b = smooth_images(16, 32, 4);
  const auto r1 = sliced_wasserstein(a, b), r2 = sliced_wasserstein(a, b);
  EXPECT_EQ(r1.levels, r2.levels);
  const auto r3 = sliced_wasserstein(a, b, SwdOptions().seed(5));
  EXPECT_NE(r1.levels, r3.levels);
  EXPECT_GT(r1.average, 0.0);
}

TEST(Swd, GrowsWithNoise) {
  const auto a = smooth_images(16, 32, 5);
  double previous = 0.0;
  for (double sigma : {4.0, 12.0, 36.0}) {
    const double value = sliced_wasserstein(a, add_noise(a, sigma, 7)).average;
    EXPECT_GT(value, previous) << sigma;
    previous = value;
  }
}

TEST(Swd, GrowsWithBlur) {
  const auto a = smooth_images(16, 64, 8);
  auto b = a.permute({0, 3, 1, 2}).to(torch::kFloat32);
  double previous = 0.0;
  for (int step = 0; step < 3; ++step) {
    b = pyr_up(pyr_down(b));  // a stronger low-pass each time
    const auto blurred = b.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
    const double value = sliced_wasserstein(a, blurred).average;
    EXPECT_GT(value, previous) << step;
    previous = value;
  }
}

TEST(Swd, InvariantToPerChannelBrightnessShift) {
  const auto a = smooth_images(16, 32, 9), b = smooth_images(16, 32, 10);
  const auto shift = torch::tensor({10, -7, 4}, torch::kInt16);
  const auto b_shifted = (b.to(torch::kInt16) + shift).clamp(0, 255).to(torch::kUInt8);
  ASSERT_TRUE(torch::equal(b_shifted.to(torch::kInt16), b.to(torch::kInt16) + shift));  // no clipping
  const auto base = sliced_wasserstein(a, b);
  const auto shifted = sliced_wasserstein(a, b_shifted);
  const auto noisy = sliced_wasserstein(a, add_noise(b, 4.0, 11));
  for (size_t l = 0; l < base.levels.size(); ++l) {
    EXPECT_NEAR(shifted.levels[l], base.levels[l], 1e-4 * base.levels[l]) << l;
  }
  // ...while a small noise moves it by far more than that.
  EXPECT_GT(std::abs(noisy.average - base.average), 100 * std::abs(shifted.average - base.average));
}

// Values from an independent float64 numpy/scipy implementation of METRICS.md §5 (PGGAN's pyramid
// with scipy.ndimage.convolve mode='mirror', numpy RandomState(0) draws: per level randint x, then
// y, then 4 x randn(147, 128)) on images drawn by RandomState(1).randint(0, 256): a = 12 x 32x32x3,
// then b = 12 x 8x8x3 blown up 4x by pixel repetition.
TEST(Swd, MatchesNumpyReference) {
  NumpyRandomState rng(1);
  auto a = torch::empty({12, 32, 32, 3}, torch::kUInt8);
  auto* pa = a.data_ptr<uint8_t>();
  for (int64_t i = 0; i < a.numel(); ++i) pa[i] = static_cast<uint8_t>(rng.randint(0, 256));
  auto small = torch::empty({12, 8, 8, 3}, torch::kUInt8);
  auto* ps = small.data_ptr<uint8_t>();
  for (int64_t i = 0; i < small.numel(); ++i) ps[i] = static_cast<uint8_t>(rng.randint(0, 256));
  const auto b = small.repeat_interleave(4, 1).repeat_interleave(4, 2).contiguous();
  const auto r = sliced_wasserstein(a, b);
  ASSERT_EQ(r.levels.size(), 2u);
  EXPECT_NEAR(r.levels[0], 69.99087161243244, 1e-4 * 69.99);
  EXPECT_NEAR(r.levels[1], 87.61229659946477, 1e-4 * 87.61);
  EXPECT_NEAR(r.average, 78.8015841059486, 1e-4 * 78.8);
}

// The whole-set computation sliced_wasserstein replaced (every descriptor of both sets, every
// projection of a repeat, one torch sort), kept as the reference the batched one must reproduce.
namespace whole_set {

torch::Tensor gather_descriptors(const torch::Tensor& level, const torch::Tensor& xs, const torch::Tensor& ys,
                                 int64_t nhood, int64_t per_image) {
  const int64_t c = level.size(1), h = level.size(2), w = level.size(3);
  const int64_t half = nhood / 2;
  const auto offsets = torch::arange(-half, half + 1, torch::kInt64);
  const auto rows = xs.size(0);
  const auto image = torch::arange(rows, torch::kInt64).div(per_image, "floor");
  const auto chan = torch::arange(c, torch::kInt64).view({1, c, 1, 1});
  const auto y = ys.view({rows, 1, 1, 1}) + offsets.view({1, 1, nhood, 1});
  const auto x = xs.view({rows, 1, 1, 1}) + offsets.view({1, 1, 1, nhood});
  const auto index = ((image.view({rows, 1, 1, 1}) * c + chan) * h + y) * w + x;
  return level.contiguous().view(-1).index_select(0, index.view(-1)).view({rows, c * nhood * nhood});
}

torch::Tensor normalize_descriptors(const torch::Tensor& desc, int64_t channels) {
  auto d = desc.view({desc.size(0), channels, -1}).to(torch::kFloat64);
  const std::vector<int64_t> dims{0, 2};
  const auto mean = d.mean(dims, /*keepdim=*/true);
  auto std = (d - mean).square().mean(dims, /*keepdim=*/true).sqrt();
  std = torch::where(std > 0, std, torch::ones_like(std));
  return ((d - mean) / std).view({desc.size(0), -1}).to(torch::kFloat32);
}

std::vector<double> sliced_wasserstein_levels(const torch::Tensor& images_a, const torch::Tensor& images_b,
                                              const SwdOptions& options) {
  const int64_t size = images_a.size(1);
  const int64_t n = std::min(images_a.size(0), images_b.size(0));
  std::vector<int64_t> resolutions;
  for (int64_t s = size; s >= options.min_resolution(); s /= 2) resolutions.push_back(s);
  const auto num_levels = static_cast<int64_t>(resolutions.size());
  auto to_float = [&](const torch::Tensor& x) { return x.slice(0, 0, n).permute({0, 3, 1, 2}).to(torch::kFloat32).contiguous(); };
  const auto pyramid_a = laplacian_pyramid(to_float(images_a), num_levels);
  const auto pyramid_b = laplacian_pyramid(to_float(images_b), num_levels);
  NumpyRandomState rng(static_cast<uint32_t>(options.seed()));
  const int64_t half = options.nhood_size() / 2;
  const int64_t rows = n * options.nhoods_per_image();
  std::vector<double> levels;
  for (int64_t level = 0; level < num_levels; ++level) {
    const int64_t s = resolutions[static_cast<size_t>(level)];
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
      std::vector<double> values(static_cast<size_t>(dims * options.dirs_per_repeat()));
      for (auto& v : values) v = rng.gauss();
      auto dirs = torch::tensor(values, torch::kFloat64).view({dims, options.dirs_per_repeat()});
      dirs = (dirs / dirs.square().sum(0, true).sqrt()).to(torch::kFloat32);
      const auto proj_a = std::get<0>(torch::matmul(desc_a, dirs).sort(0));
      const auto proj_b = std::get<0>(torch::matmul(desc_b, dirs).sort(0));
      total += (proj_a - proj_b).abs().to(torch::kFloat64).mean().item<double>();
    }
    levels.push_back(total / static_cast<double>(options.dir_repeats()) * 1e3);
  }
  return levels;
}

}  // namespace whole_set

void expect_matches_whole_set(const torch::Tensor& a, const torch::Tensor& b, const SwdOptions& options) {
  const auto expected = whole_set::sliced_wasserstein_levels(a, b, options);
  const auto r = sliced_wasserstein(a, b, options);
  ASSERT_EQ(r.levels.size(), expected.size());
  for (size_t l = 0; l < expected.size(); ++l) {
    EXPECT_LE(std::abs(r.levels[l] - expected[l]), 1e-5 * expected[l]) << "level " << l << ": " << r.levels[l]
                                                                         << " vs " << expected[l];
  }
}

// Several image batches (the last one short) and direction chunks (not dividing a repeat, so
// chunks straddle repeats), for sets that differ by a little noise and by a lot.
TEST(Swd, BatchedMatchesWholeSetComputation) {
  const auto a = smooth_images(256, 32, 14);
  expect_matches_whole_set(a, add_noise(a, 8.0, 15), SwdOptions().image_batch(37).direction_chunk(12).seed(3));
  // Unrelated sets with the default batches (one here), and 64x64 with its three levels; fewer
  // directions keep the whole-set computation's sorts short.
  const auto few_directions = SwdOptions().dir_repeats(3).dirs_per_repeat(20);
  expect_matches_whole_set(a.slice(0, 0, 96), smooth_images(96, 32, 16), few_directions);
  const auto big = smooth_images(32, 64, 17);
  expect_matches_whole_set(big, add_noise(big, 8.0, 18), SwdOptions(few_directions).image_batch(10).direction_chunk(7));
}

TEST(Swd, BatchSettingsDoNotChangeTheResult) {
  const auto a = smooth_images(40, 32, 20), b = smooth_images(40, 32, 21);
  const auto base = sliced_wasserstein(a, b);
  for (const auto& options : {SwdOptions().image_batch(1).direction_chunk(1), SwdOptions().image_batch(7).direction_chunk(512),
                              SwdOptions().image_batch(1000).direction_chunk(100000)}) {
    const auto r = sliced_wasserstein(a, b, options);
    for (size_t l = 0; l < base.levels.size(); ++l) EXPECT_NEAR(r.levels[l], base.levels[l], 1e-6 * base.levels[l]) << l;
  }
}

TEST(Swd, BadInputs) {
  const auto a = smooth_images(4, 32, 12);
  EXPECT_THROW(sliced_wasserstein(a, smooth_images(4, 64, 12)), InputError);
  const auto cropped = a.slice(1, 0, 24).slice(2, 0, 24).contiguous();
  EXPECT_THROW(sliced_wasserstein(cropped, cropped), InputError);
  EXPECT_THROW(sliced_wasserstein(a.to(torch::kFloat32), a), InputError);
  EXPECT_THROW(sliced_wasserstein(a, a, SwdOptions().image_batch(0)), InputError);
  EXPECT_THROW(sliced_wasserstein(a, a, SwdOptions().direction_chunk(0)), InputError);
  // Unequal counts use the first min(nA, nB) of each.
  const auto r = sliced_wasserstein(a, torch::cat({a, smooth_images(2, 32, 13)}));
  EXPECT_EQ(r.average, 0.0);
}

}  // namespace
}  // namespace cmbench
