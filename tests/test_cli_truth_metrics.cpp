// `cmbench gt-fd`, `gt-loglik` and `consistency-error` through the program: the values against closed
// forms computed here from the mixture (core/gaussian_mixture.h), and one-line errors for bad input.
// (The equality of the commands with a suite run's rows is in test_harness_truth_eval.cpp.)
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/gaussian_mixture.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/rng.h"
#include "test_util.h"

using namespace cmbench;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

struct Files {
  std::string images, truth, mixture_path;
  torch::Tensor pixels, shift;
};

// 200 random 3x4x4 images and a one-component mixture with their mean and covariance except for a shift
// of the mean: gt_fd = ||shift||^2.
Files shifted_truth(const test::TempDir& dir) {
  Files f;
  auto g = make_generator(4, "test-images");
  f.pixels = torch::randint(30, 220, {200, 4, 4, 3}, g, torch::kInt64).to(torch::kUInt8);
  f.images = dir.file("images.npz");
  write_npz(f.images, {{"images", from_tensor(f.pixels)}});
  const auto rows = dequantize_images(f.pixels).reshape({200, 48});
  const auto mu = rows.mean(0);
  const auto centred = rows - mu;
  const auto sigma = centred.t().matmul(centred) / 199.0;
  const auto [eigenvalues, vectors] = torch::linalg_eigh(sigma);
  const double floor = eigenvalues.min().item<double>() / 2;
  f.shift = torch::linspace(0.02, -0.04, 48, kF64);
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::ones({1}, kF64);
  p.means = (mu + f.shift).unsqueeze(0);
  p.noise_variances = torch::full({1}, floor, kF64);
  p.factors = vectors.unsqueeze(0);
  p.factor_variances = (eigenvalues - floor).unsqueeze(0);
  f.mixture_path = dir.file("truth.npz");
  GaussianMixture(p).save(f.mixture_path);
  f.truth = "gmm:" + f.mixture_path;
  return f;
}

nlohmann::json run_json(const std::vector<std::string>& args) {
  const auto r = test::run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
}

}  // namespace

TEST(CliTruthMetrics, GtFdAndGtLoglikEqualTheirClosedForms) {
  test::TempDir dir;
  const auto f = shifted_truth(dir);
  const auto fd = run_json({"gt-fd", f.images, f.truth, "--json"});
  EXPECT_NEAR(fd.at("gt_fd").get<double>(), f.shift.square().sum().item<double>(), 1e-9);
  EXPECT_EQ(fd.at("n").get<int64_t>(), 200);
  EXPECT_EQ(fd.at("reference_sha256").get<std::string>(), GaussianMixture::load(f.mixture_path).fingerprint());

  const auto mixture = GaussianMixture::load(f.mixture_path);
  const auto x = dequantize_images(f.pixels);
  const double expected = mixture.log_prob(x, torch::zeros({}, kF64)).mean().item<double>() / 48.0;
  const auto loglik = run_json({"gt-loglik", f.images, f.truth, "--json"});
  EXPECT_NEAR(loglik.at("gt_loglik").get<double>(), expected, 1e-12 * std::abs(expected));

  const auto text = test::run_cli({"gt-fd", f.images, f.truth});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("ground-truth Fréchet distance"), std::string::npos) << text.out;
}

TEST(CliTruthMetrics, BadInputsAreOneLineErrors) {
  test::TempDir dir;
  const auto f = shifted_truth(dir);
  const auto not_truth = test::run_cli({"gt-fd", f.images, "cifar10:train"});
  EXPECT_EQ(not_truth.exit_code, 2);
  EXPECT_NE(not_truth.err.find("cifar10:train: the ground-truth metrics compare with a gmm:FILE.npz source"),
            std::string::npos)
      << not_truth.err;

  const auto big = dir.file("big.npz");
  write_npz(big, {{"images", from_tensor(torch::zeros({3, 8, 8, 3}, torch::kUInt8))}});
  const auto shape = test::run_cli({"gt-loglik", big, f.truth});
  EXPECT_EQ(shape.exit_code, 2);
  EXPECT_NE(shape.err.find(big + ": images are 3x8x8"), std::string::npos) << shape.err;

  const auto missing = test::run_cli({"consistency-error", "--ckpt", dir.file("none.h5"), "--truth", f.truth, "--probes", "1"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find(dir.file("none.h5")), std::string::npos) << missing.err;

  const auto no_probes = test::run_cli({"consistency-error", "--ckpt", dir.file("none.h5"), "--truth", f.truth, "--probes", "0"});
  EXPECT_EQ(no_probes.exit_code, 2);
}
