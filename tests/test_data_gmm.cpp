// The ground-truth source gmm: (data/gmm_source.h): spec parsing, per-image determinism, read ranges,
// the moments of its draws against the mixture's closed forms, the cached ground truth, bad input.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/gaussian_mixture.h"
#include "core/npy.h"
#include "core/rng.h"
#include "data/gmm_source.h"
#include "data/image_source.h"
#include "test_util.h"

namespace cmbench {
namespace {

using test::TempDir;

// Two rank-1 components on 3x4x4 images, well inside [-1, 1] (the uint8 quantization clamps
// nothing within 6 standard deviations).
GaussianMixture small_mixture(double shift = 0.0) {
  const int64_t d = 48;
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::tensor({0.4, 0.6}, torch::kFloat64);
  const auto ramp = torch::linspace(-0.1, 0.1, d, torch::kFloat64);
  p.means = torch::stack({ramp - 0.25 + shift, 0.25 - ramp + shift});
  p.noise_variances = torch::tensor({0.005, 0.008}, torch::kFloat64);
  const auto ones = torch::ones({d}, torch::kFloat64) / std::sqrt(static_cast<double>(d));
  const auto alternating = torch::tensor(std::vector<double>{1.0, -1.0}, torch::kFloat64).repeat({d / 2}) /
                           std::sqrt(static_cast<double>(d));
  p.factors = torch::stack({ones, alternating}).unsqueeze(2);  // (2, 48, 1)
  p.factor_variances = torch::tensor({{0.01}, {0.02}}, torch::kFloat64);
  return GaussianMixture(std::move(p), "test mixture");
}

std::string write_mixture(const TempDir& dir, const std::string& name, double shift = 0.0) {
  const auto path = dir.file(name);
  small_mixture(shift).save(path);
  return path;
}

TEST(DataGmm, ParsesEverySpecForm) {
  EXPECT_FALSE(parse_gmm_spec("cifar10:train").has_value());
  EXPECT_FALSE(parse_gmm_spec("images.npz").has_value());
  const auto train = parse_gmm_spec("gmm:m.npz").value();
  EXPECT_EQ(train.file, "m.npz");
  EXPECT_EQ(train.count, 50000);
  EXPECT_EQ(train.seed, 0u);
  const auto named_train = parse_gmm_spec("gmm:m.npz:train").value();
  EXPECT_EQ(named_train.count, 50000);
  EXPECT_EQ(named_train.seed, 0u);
  const auto test_set = parse_gmm_spec("gmm:dir/m.npz:test").value();
  EXPECT_EQ(test_set.file, "dir/m.npz");
  EXPECT_EQ(test_set.count, 10000);
  EXPECT_EQ(test_set.seed, 1u);
  const auto custom = parse_gmm_spec("gmm:a:b/m.npz:7:12345678901").value();
  EXPECT_EQ(custom.file, "a:b/m.npz");
  EXPECT_EQ(custom.count, 7);
  EXPECT_EQ(custom.seed, 12345678901u);
}

TEST(DataGmm, BadSpecsAreOneLineErrorsNamingTheSpec) {
  for (const std::string spec : {"gmm:", "gmm:m.npz:5", "gmm:m.npz:0:1", "gmm:m.npz:x:1", "gmm:m.npz:-3:1",
                                 "gmm:m.npz:3:-1", "gmm:m.txt", "gmm:m.npz:valid", "gmm::test",
                                 "gmm:m.npz:99999999999999999999:0"}) {
    const auto message = test::input_error_message([&] { parse_gmm_spec(spec); });
    EXPECT_EQ(message.rfind(spec + ": expected gmm:FILE.npz", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  TempDir dir;
  const auto missing = "gmm:" + dir.file("none.npz");
  EXPECT_EQ(test::input_error_message([&] { open_image_source(missing); }).rfind(missing + ": no such mixture file", 0),
            0u);
  const auto not_a_mixture = dir.file("images.npz");
  write_npz(not_a_mixture, {{"images", NpyArray(DType::u8, {1, 2, 2, 3})}});
  const auto message = test::input_error_message([&] { ground_truth_of("gmm:" + not_a_mixture + ":test"); });
  EXPECT_EQ(message.rfind("gmm:" + not_a_mixture + ":test: ", 0), 0u) << message;
}

TEST(DataGmm, ImagesAreDrawnPerIndexSoEveryRangeEqualsTheFullRead) {
  TempDir dir;
  const auto file = write_mixture(dir, "m.npz");
  const auto spec = "gmm:" + file + ":64:5";
  const auto source = open_image_source(spec);
  EXPECT_EQ(source->name(), spec);
  EXPECT_EQ(source->size(), 64);
  EXPECT_EQ(source->channels(), 3);
  EXPECT_EQ(source->height(), 4);
  EXPECT_EQ(source->width(), 4);
  EXPECT_FALSE(source->has_labels());
  const auto all = source->read(0, 64);
  EXPECT_TRUE(torch::equal(source->read(10, 20), all.narrow(0, 10, 10)));
  EXPECT_TRUE(torch::equal(source->read_indices({50, 3, 4, 63}),
                           all.index_select(0, torch::tensor({50, 3, 4, 63}, torch::kInt64))));
  EXPECT_TRUE(torch::equal(open_image_source(spec)->read(0, 64), all));
  // Image i is quantize_images of one draw from generator (SEED, "gmm", i).
  const auto mixture = small_mixture();
  EXPECT_TRUE(torch::equal(all.narrow(0, 7, 1), quantize_images(mixture.sample(1, make_generator(5, "gmm", 7)))));
  EXPECT_FALSE(torch::equal(open_image_source("gmm:" + file + ":64:6")->read(0, 64), all));
  // The named sets: train is seed 0, test seed 1.
  const auto train = open_image_source("gmm:" + file);
  const auto test_set = open_image_source("gmm:" + file + ":test");
  EXPECT_EQ(train->size(), 50000);
  EXPECT_EQ(test_set->size(), 10000);
  EXPECT_TRUE(torch::equal(train->read(49999, 50000), quantize_images(mixture.sample(1, make_generator(0, "gmm", 49999)))));
  EXPECT_TRUE(torch::equal(test_set->read(0, 2), open_image_source("gmm:" + file + ":2:1")->read(0, 2)));
}

// 20000 draws against the mixture's mean() and covariance(). Tolerance per element: 6 standard errors
// estimated from the draws themselves (the mean's sd / sqrt(n); for a covariance entry the sd of the
// products of centered values / sqrt(n)), plus the uniform quantization noise width^2 / 12 on the diagonal.
TEST(DataGmm, MomentsOfTheDrawsMatchTheMixture) {
  TempDir dir;
  const auto file = write_mixture(dir, "m.npz");
  const int64_t n = 20000;
  const auto x = dequantize_images(open_image_source("gmm:" + file + ":20000:3")->read(0, n)).reshape({n, -1});
  const auto mixture = ground_truth_of("gmm:" + file);
  const auto mean = x.mean(0);
  const auto mean_tolerance = 6 * x.std(0) / std::sqrt(static_cast<double>(n));
  EXPECT_TRUE(((mean - mixture->mean()).abs() <= mean_tolerance).all().item<bool>())
      << ((mean - mixture->mean()).abs() / mean_tolerance).max().item<double>() << " standard errors";
  const auto centered = x - mean;
  const auto covariance = centered.t().matmul(centered) / static_cast<double>(n);
  // Var(c_i c_j) = E[c_i^2 c_j^2] - E[c_i c_j]^2, without the (n, D, D) products.
  const auto squares = centered.square();
  const auto product_variance = squares.t().matmul(squares) / static_cast<double>(n) - covariance.square();
  const double quantization = 1.0 / (12 * 127.5 * 127.5);
  const auto cov_tolerance = 6 * product_variance.sqrt() / std::sqrt(static_cast<double>(n)) +
                             quantization * torch::eye(x.size(1), torch::kFloat64);
  const auto error = (covariance - mixture->covariance()).abs();
  EXPECT_TRUE((error <= cov_tolerance).all().item<bool>()) << (error / cov_tolerance).max().item<double>();
}

TEST(DataGmm, GroundTruthIsLoadedOncePerFileAndAgainWhenItChanges) {
  TempDir dir;
  const auto file = write_mixture(dir, "m.npz");
  EXPECT_EQ(ground_truth_of("cifar10:train"), nullptr);
  EXPECT_EQ(ground_truth_of(dir.file("images.npz")), nullptr);
  const auto first = ground_truth_of("gmm:" + file);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->fingerprint(), small_mixture().fingerprint());
  EXPECT_EQ(ground_truth_of("gmm:" + file + ":test").get(), first.get());
  EXPECT_EQ(ground_truth_of("gmm:" + file + ":10:4").get(), first.get());
  // Rewritten with other parameters: the next call sees them (the cache checks size and time).
  std::filesystem::remove(file);
  small_mixture(0.125).save(file);
  std::filesystem::last_write_time(file, std::filesystem::last_write_time(file) + std::chrono::seconds(2));
  const auto second = ground_truth_of("gmm:" + file);
  EXPECT_EQ(second->fingerprint(), small_mixture(0.125).fingerprint());
  EXPECT_NE(second->fingerprint(), first->fingerprint());
}

}  // namespace
}  // namespace cmbench
