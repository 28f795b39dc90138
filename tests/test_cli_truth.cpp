// `cmbench truth fit | info` and the gmm: source through `cmbench data info`, driven as a user would.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/gaussian_mixture.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/rng.h"
#include "test_util.h"

using namespace cmbench;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// A known isotropic 2-component mixture on 3x8x8 images: component 0 a constant -0.5 image, component
// 1 a constant 0.4 image, both with pixel standard deviation 0.05, weights 0.3 and 0.7.
GaussianMixture two_blobs() {
  GaussianMixtureParts p;
  p.shape = {3, 8, 8};
  p.weights = torch::tensor({0.3, 0.7}, kF64);
  p.means = torch::stack({torch::full({192}, -0.5, kF64), torch::full({192}, 0.4, kF64)});
  p.noise_variances = torch::tensor({0.0025, 0.0025}, kF64);
  return GaussianMixture(std::move(p), "two blobs");
}

std::string write_images(const test::TempDir& dir, int64_t n) {
  const auto path = dir.file("images.npz");
  write_npz(path, {{"images", from_tensor(quantize_images(two_blobs().sample(n, make_generator(0, "test"))))}});
  return path;
}

nlohmann::json json_of(const test::CliResult& r) { return nlohmann::json::parse(r.out, nullptr, false); }

}  // namespace

// Fitted at resolution 4 (2x2 block means) with K = 2, the weights are the two blobs' shares, the means
// the blobs' constants, the noise variance the block mean's: (0.0025 + w^2 / 12) / 4 with w = 1/127.5
// the quantization bin (6.263e-4). Tolerances: 5 binomial standard errors for the weights
// (sqrt(0.21 / 2000) = 0.010), 5 standard errors of a block mean for the means (0.025 / sqrt(600)),
// and 5% for the variance (the mean of 47 of the 48 eigenvalues of a 600-point sample covariance).
TEST(CliTruth, FitRecoversAKnownTwoComponentMixture) {
  test::TempDir dir;
  const int64_t n = 2000;
  const auto images = write_images(dir, n);
  const auto out = dir.file("fit.npz");
  auto r = test::run_cli({"truth", "fit", images, "--resolution", "4", "--components", "2", "--rank", "1", "--out", out,
                          "--min-variance", "1e-6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + out + ": 2 components of rank 1, shape 3x4x4, from 2000 images"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("k-means iteration 1/100"), std::string::npos) << r.err;
  const auto fit = GaussianMixture::load(out);
  const auto& p = fit.parts();
  ASSERT_EQ(fit.shape(), (std::vector<int64_t>{3, 4, 4}));
  const int64_t low = p.means[0].mean().item<double>() < 0 ? 0 : 1;
  EXPECT_NEAR(p.weights[low].item<double>(), 0.3, 5 * std::sqrt(0.21 / n));
  EXPECT_NEAR(p.weights[1 - low].item<double>(), 0.7, 5 * std::sqrt(0.21 / n));
  EXPECT_LT((p.means[low] + 0.5).abs().max().item<double>(), 5 * 0.025 / std::sqrt(0.3 * n));
  EXPECT_LT((p.means[1 - low] - 0.4).abs().max().item<double>(), 5 * 0.025 / std::sqrt(0.7 * n));
  const double want = (0.0025 + 1 / (12 * 127.5 * 127.5)) / 4;
  for (int64_t k = 0; k < 2; ++k) EXPECT_NEAR(p.noise_variances[k].item<double>(), want, 0.05 * want) << k;

  // The same command again: the same mixture, bit for bit.
  const auto again = dir.file("again.npz");
  r = test::run_cli({"truth", "fit", images, "--resolution", "4", "--components", "2", "--rank", "1", "--out", again,
                     "--min-variance", "1e-6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(GaussianMixture::load(again).fingerprint(), fit.fingerprint());

  // truth info reads back what was written.
  r = test::run_cli({"truth", "info", out, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = json_of(r);
  EXPECT_EQ(info.at("components"), 2);
  EXPECT_EQ(info.at("shape"), nlohmann::json({3, 4, 4}));
  EXPECT_EQ(info.at("rank"), 1);
  EXPECT_EQ(info.at("fingerprint"), fit.fingerprint());
  EXPECT_NEAR(info.at("weights")[low].get<double>(), p.weights[low].item<double>(), 1e-15);
  EXPECT_NEAR(info.at("covariance_trace").get<double>(), fit.covariance().trace().item<double>(), 1e-12);
  EXPECT_DOUBLE_EQ(info.at("quantization_variance").get<double>(), 1 / (12 * 127.5 * 127.5));
  EXPECT_DOUBLE_EQ(info.at("quantization_relative").get<double>(),
                   1 / (12 * 127.5 * 127.5) / p.noise_variances.min().item<double>());
  EXPECT_EQ(info.at("clamped_share"), 0.0);  // the blobs lie 10 standard deviations inside [-1, 1]
  EXPECT_EQ(info.at("ode_probes"), 16 * truth_bucket_count());
  EXPECT_LT(info.at("ode_error_bound").get<double>(), 1e-6);
  r = test::run_cli({"truth", "info", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("components:       2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shape:            3x4x4 (D = 48)\n"), std::string::npos) << r.out;
}

// A mixture that reaches past [-1, 1]: truth info counts the clamped pixel values.
TEST(CliTruth, InfoCountsTheMassOutsideTheImageRange) {
  test::TempDir dir;
  GaussianMixtureParts p;
  p.shape = {1, 1, 1};
  p.weights = torch::ones({1}, kF64);
  p.means = torch::zeros({1, 1}, kF64);
  p.noise_variances = torch::ones({1}, kF64);  // N(0, 1): P(|x| > 1.00392) = 0.3151 (x outside the 256 bins)
  const auto path = dir.file("wide.npz");
  GaussianMixture(std::move(p)).save(path);
  const auto r = test::run_cli({"truth", "info", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 10000 draws: binomial standard error sqrt(0.3151 * 0.6849 / 10000) = 0.0046; 5 of them.
  EXPECT_NEAR(json_of(r).at("clamped_share").get<double>(), std::erfc(128 / 127.5 / std::sqrt(2.0)), 0.023);
}

TEST(CliTruth, BadInputsExitTwoWithOneLine) {
  test::TempDir dir;
  const auto images = write_images(dir, 20);
  const auto out = dir.file("fit.npz");
  const auto fails = [&](const std::vector<std::string>& args, const std::string& message) {
    const auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  fails({"truth", "fit", images, "--resolution", "3", "--components", "2", "--rank", "1", "--out", out},
        "--resolution 3: must divide the images' size 8x8");
  fails({"truth", "fit", images, "--resolution", "2", "--components", "2", "--rank", "12", "--out", out},
        "--rank 12: must be in 0..11 (below C*H*W)");
  fails({"truth", "fit", images, "--resolution", "2", "--components", "21", "--rank", "1", "--out", out},
        "k-means: 20 points for 21 clusters");
  fails({"truth", "fit", images, "--resolution", "2", "--components", "2", "--rank", "1", "--out", out, "--num", "30"},
        images);
  fails({"truth", "fit", dir.file("none.npz"), "--resolution", "2", "--components", "2", "--rank", "1", "--out", out},
        dir.file("none.npz") + ": no such file");
  fails({"truth", "info", images}, images);
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(CliTruth, DataInfoReadsAGmmSource) {
  test::TempDir dir;
  const auto mixture = dir.file("m.npz");
  two_blobs().save(mixture);
  auto r = test::run_cli({"data", "info", "gmm:" + mixture + ":100:0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = json_of(r);
  EXPECT_EQ(info.at("count"), 100);
  EXPECT_EQ(info.at("height"), 8);
  EXPECT_EQ(info.at("width"), 8);
  EXPECT_EQ(info.at("channels"), 3);
  EXPECT_EQ(info.at("labels"), false);
  r = test::run_cli({"data", "info", "gmm:" + mixture + ":100"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("gmm:" + mixture + ":100: expected gmm:FILE.npz"), std::string::npos) << r.err;
}
