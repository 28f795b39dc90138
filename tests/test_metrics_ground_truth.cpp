// The ground-truth metrics (gt_fd, gt_loglik, consistency_error, target_stats) against closed forms
// and exactly constructed answers, through the registry's Metric objects as the CLI and the suite
// runner use them.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include <torch/torch.h>

#include "core/error.h"
#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "metrics/ground_truth_features.h"
#include "metrics/protocol.h"
#include "metrics/registry.h"
#include "metrics/statistics.h"
#include "test_util.h"

namespace cmbench {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
constexpr double kBin = 1.0 / 127.5;  // the width of one uint8 bin in [-1, 1]

torch::Tensor orthonormal(int64_t d, int64_t r, uint64_t seed) {
  auto g = make_generator(seed, "test-basis");
  return std::get<0>(torch::linalg_qr(torch::randn({d, r}, g, kF64)));
}

// Three low-rank components on 3x4x4 images (D = 48), well inside [-1, 1] so that quantization never clamps.
std::shared_ptr<const GaussianMixture> small_mixture() {
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  auto g = make_generator(11, "test-mixture");
  p.weights = torch::tensor({0.5, 0.3, 0.2}, kF64);
  p.means = torch::randn({3, 48}, g, kF64) * 0.2;
  p.noise_variances = torch::tensor({0.004, 0.006, 0.003}, kF64);
  p.factors = torch::stack({orthonormal(48, 2, 1), orthonormal(48, 2, 2), orthonormal(48, 2, 3)});
  p.factor_variances = torch::tensor({{0.05, 0.02}, {0.04, 0.0}, {0.03, 0.01}}, kF64);
  return std::make_shared<const GaussianMixture>(p);
}

// N(mean, s^2 I) on 3x4x4 images.
std::shared_ptr<const GaussianMixture> isotropic_gaussian(double mean, double s) {
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::ones({1}, kF64);
  p.means = torch::full({1, 48}, mean, kF64);
  p.noise_variances = torch::full({1}, s * s, kF64);
  return std::make_shared<const GaussianMixture>(p);
}

ImageSetFeatures truth_set(std::shared_ptr<const GaussianMixture> mixture, int64_t per_bucket = 0) {
  ImageSetFeatures out;
  out.name = "test mixture";
  if (per_bucket > 0) out.probes = std::make_shared<const TruthProbes>(make_truth_probes(*mixture, per_bucket, 0));
  out.mixture = std::move(mixture);
  out.sources[Feature::ground_truth] = out.name;
  return out;
}

ImageSetFeatures image_set(const torch::Tensor& pixels) {
  ImageSetFeatures out;
  out.name = "test images";
  out.count = pixels.size(0);
  out.pixels = pixels;
  out.sources[Feature::pixels] = out.name;
  return out;
}

MetricValues evaluate(const std::string& name, const ImageSetFeatures& generated, const ImageSetFeatures& reference) {
  return evaluate_metric(*metric_registry().create(name), generated, &reference, MetricSettings{});
}

double value(const std::string& metric, const std::string& output, const ImageSetFeatures& generated,
             const ImageSetFeatures& reference) {
  return evaluate(metric, generated, reference).values.at(output);
}

torch::Tensor mixture_pixels(const GaussianMixture& mixture, int64_t n, uint64_t seed) {
  return quantize_images(mixture.sample(n, make_generator(seed, "test-draws")));
}

TEST(GroundTruthMetrics, RegisteredWithTheirOutputsAndDirections) {
  for (const char* name : {"gt_fd", "gt_loglik", "consistency_error", "target_stats"}) {
    EXPECT_TRUE(metric_registry().contains(name)) << name;
  }
  EXPECT_EQ(metric_of_output("gt_fd"), "gt_fd");
  EXPECT_EQ(metric_of_output("cerr_t5"), "consistency_error");
  EXPECT_EQ(metric_of_output("tbias_t0"), "target_stats");
  const auto outputs = metric_registry().create("target_stats")->outputs();
  ASSERT_EQ(outputs.size(), 2u + 2u * static_cast<size_t>(truth_bucket_count()));
  EXPECT_EQ(outputs[0].name, "tvar");
  EXPECT_EQ(outputs[1].name, "tbias");
  EXPECT_TRUE(metric_registry().create("gt_loglik")->outputs()[0].higher_is_better);
  EXPECT_FALSE(metric_registry().create("consistency_error")->outputs()[0].higher_is_better);
  EXPECT_TRUE(is_network_metric(*metric_registry().create("consistency_error")));
  EXPECT_TRUE(is_network_metric(*metric_registry().create("target_stats")));
  EXPECT_FALSE(is_network_metric(*metric_registry().create("gt_fd")));
  EXPECT_EQ(reference_features(*metric_registry().create("gt_fd")), std::set<Feature>{Feature::ground_truth});
  EXPECT_EQ(generated_features(*metric_registry().create("gt_fd")), std::set<Feature>{Feature::pixels});
}

// The mixture's own samples: the Fréchet distance is the finite-sample bias alone. For Gaussian data
// with covariance eigenvalues lambda_i, E[FD] ~ tr(Sigma) / N + sum_ij lambda_i lambda_j (1 + delta_ij)
// / (N (sqrt(lambda_i) + sqrt(lambda_j))^2) <= (tr Sigma + ((sum_i sqrt(lambda_i))^2 + tr Sigma) / 4) / N;
// the test allows twice that (a mixture is not Gaussian) plus what quantization adds: q = bin^2 / 12 on
// every variance, sum_i (sqrt(lambda_i + q) - sqrt(lambda_i))^2 <= D q^2 / (4 lambda_min).
TEST(GroundTruthMetrics, FdOfTheMixturesOwnSamplesIsSmallAndFallsWithN) {
  const auto mixture = small_mixture();
  const auto truth = truth_set(mixture);
  const double fd_small = value("gt_fd", "gt_fd", image_set(mixture_pixels(*mixture, 2000, 1)), truth);
  const double fd_large = value("gt_fd", "gt_fd", image_set(mixture_pixels(*mixture, 20000, 2)), truth);
  const auto eigenvalues = torch::linalg_eigvalsh(mixture->covariance()).clamp_min(0);
  const double trace = eigenvalues.sum().item<double>();
  const double root_sum = eigenvalues.sqrt().sum().item<double>();
  const double q = kBin * kBin / 12, lambda_min = eigenvalues.min().item<double>();
  const double bound = 2 * (trace + (root_sum * root_sum + trace) / 4) / 20000 + 48 * q * q / (4 * lambda_min);
  EXPECT_GT(fd_large, 0);
  EXPECT_LT(fd_large, bound) << "trace " << trace;
  EXPECT_LT(fd_large, fd_small / 4);  // about 1/N: 10x the images, about a tenth of the distance
}

// A set whose mean and covariance are the mixture's but for a shift of the mean: FD = ||shift||^2.
TEST(GroundTruthMetrics, FdOfAShiftedSetIsTheSquaredShift) {
  auto g = make_generator(5, "test-images");
  const auto pixels = torch::randint(40, 216, {300, 4, 4, 3}, g, torch::kInt64).to(torch::kUInt8);
  const auto rows = dequantize_images(pixels).reshape({300, 48});
  const auto stats = compute_statistics(rows, 1);
  const auto [eigenvalues, vectors] = torch::linalg_eigh(stats.sigma);
  const double floor = eigenvalues.min().item<double>() / 2;
  const auto shift = torch::linspace(-0.05, 0.08, 48, kF64);
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::ones({1}, kF64);
  p.means = (stats.mu + shift).unsqueeze(0);
  p.noise_variances = torch::full({1}, floor, kF64);
  p.factors = vectors.unsqueeze(0);
  p.factor_variances = (eigenvalues - floor).unsqueeze(0);
  const auto truth = truth_set(std::make_shared<const GaussianMixture>(p));
  const double expected = shift.square().sum().item<double>();
  EXPECT_NEAR(value("gt_fd", "gt_fd", image_set(pixels), truth), expected, 1e-9 * (1 + stats.sigma.trace().item<double>()));
}

// One image under N(m, s^2 I): log p = -D/2 log(2 pi s^2) - ||x - m||^2 / (2 s^2), per dimension.
TEST(GroundTruthMetrics, LoglikOfOneImageIsTheGaussianDensityPerDimension) {
  const double s = 0.2;
  const auto truth = truth_set(isotropic_gaussian(0.1, s));
  auto g = make_generator(2, "test-images");
  const auto pixels = torch::randint(0, 256, {1, 4, 4, 3}, g, torch::kInt64).to(torch::kUInt8);
  const auto x = dequantize_images(pixels).reshape({-1});
  const double expected = -0.5 * std::log(2 * M_PI * s * s) - (x - 0.1).square().mean().item<double>() / (2 * s * s);
  EXPECT_NEAR(value("gt_loglik", "gt_loglik", image_set(pixels), truth), expected, 1e-12);
}

// The mixture's own (quantized) samples of a 1-component isotropic N(m, s^2 I): E[log p(x + u)] / D with
// u uniform over a bin = -0.5 log(2 pi e s^2) - bin^2 / (24 s^2); the per-dimension log-density has
// variance 1/2, so the mean over N images of D dimensions has standard deviation sqrt(1 / (2 N D)).
TEST(GroundTruthMetrics, LoglikOfSamplesIsTheNegativeEntropyPerDimension) {
  const double s = 0.1;
  const auto mixture = isotropic_gaussian(-0.05, s);
  const int64_t n = 20000;
  const double measured = value("gt_loglik", "gt_loglik", image_set(mixture_pixels(*mixture, n, 3)), truth_set(mixture));
  const double expected = -0.5 * std::log(2 * M_PI * std::exp(1.0) * s * s) - kBin * kBin / (24 * s * s);
  EXPECT_NEAR(measured, expected, 5 * std::sqrt(1.0 / (2.0 * n * 48)));
}

TEST(GroundTruthMetrics, ImageMetricsRefuseMismatchedOrMissingInputs) {
  const auto truth = truth_set(small_mixture());
  const auto wrong = image_set(torch::zeros({4, 8, 8, 3}, torch::kUInt8));
  EXPECT_NE(test::input_error_message([&] { evaluate("gt_fd", wrong, truth); }).find("images are 3x8x8"), std::string::npos);
  EXPECT_NE(test::input_error_message([&] { evaluate("gt_loglik", wrong, truth); }).find("test mixture is 3x4x4"),
            std::string::npos);
  ImageSetFeatures no_truth;
  no_truth.name = "cifar10:train";
  const auto images = image_set(torch::zeros({4, 4, 4, 3}, torch::kUInt8));
  EXPECT_NE(test::input_error_message([&] { evaluate("gt_fd", images, no_truth); }).find("cifar10:train: holds no ground truth"),
            std::string::npos);
  EXPECT_NE(test::input_error_message([&] { evaluate("gt_fd", image_set(torch::zeros({1, 4, 4, 3}, torch::kUInt8)), truth); })
                .find("at least 2 images"),
            std::string::npos);
  EXPECT_NE(test::input_error_message([] { ground_truth_features("cifar10:train", 4); }).find("cifar10:train: "),
            std::string::npos);
}

ImageSetFeatures answers(const torch::Tensor& consistency_outputs) {
  ImageSetFeatures out;
  out.name = "test network";
  out.truth.consistency_outputs = consistency_outputs;
  out.sources[Feature::consistency_outputs] = out.name;
  return out;
}

// Outputs f* + c_p (the same offset in every element of probe p): the per-probe error is c_p^2 exactly.
TEST(GroundTruthMetrics, ConsistencyErrorIsTheMeanSquaredOffsetPerBucket) {
  const auto truth = truth_set(small_mixture(), 3);
  const auto& probes = *truth.probes;
  const int64_t count = probes.t.size(0);
  ASSERT_EQ(count, 3 * truth_bucket_count());
  const auto exact = evaluate("consistency_error", answers(probes.f_star), truth);
  EXPECT_EQ(exact.values.at("cerr"), 0.0);
  for (const auto& name : bucket_output_names("cerr")) EXPECT_EQ(exact.values.at(name), 0.0) << name;
  EXPECT_EQ(exact.details.at("ode_error_bound").get<double>(), probes.error_bound);
  EXPECT_EQ(exact.details.at("probes").get<int64_t>(), count);

  const auto offsets = torch::arange(count, kF64) * 0.01 + 0.005;
  const auto shifted = evaluate("consistency_error", answers(probes.f_star + offsets.reshape({-1, 1, 1, 1})), truth);
  const auto squares = offsets.square();
  EXPECT_NEAR(shifted.values.at("cerr"), squares.mean().item<double>(), 1e-15);
  const auto names = bucket_output_names("cerr");
  for (int64_t b = 0; b < truth_bucket_count(); ++b) {
    const double expected = squares.slice(0, 3 * b, 3 * b + 3).mean().item<double>();
    EXPECT_NEAR(shifted.values.at(names[static_cast<size_t>(b)]), expected, 1e-15) << names[static_cast<size_t>(b)];
  }
  // float32 outputs are read as they are (a network's dtype).
  EXPECT_NEAR(evaluate("consistency_error", answers(probes.f_star.to(torch::kFloat32)), truth).values.at("cerr"), 0.0, 1e-12);

  EXPECT_NE(test::input_error_message([&] { evaluate("consistency_error", answers(probes.f_star.slice(0, 1)), truth); })
                .find("the consistency outputs must be (P, C, H, W)"),
            std::string::npos);
  EXPECT_NE(test::input_error_message([&] { evaluate("consistency_error", answers(probes.f_star), truth_set(small_mixture())); })
                .find("holds no probe set"),
            std::string::npos);
}

ImageSetFeatures targets(const torch::Tensor& r, const torch::Tensor& x_r) {
  ImageSetFeatures out;
  out.name = "test method";
  out.truth.target_r = r;
  out.truth.target_x_r = x_r;
  out.sources[Feature::target_estimates] = out.name;
  return out;
}

// Draws x* + b_p 1 + a_p s_m v with s_m = +-1 alternating (M = 4, sum_m s_m = 0) and v of elements
// +-1: the draws' mean is x* + b_p 1, so variance = M a^2 / (M - 1) and squared bias = b^2 - a^2 / (M - 1),
// exactly (the unbiased estimator subtracts variance / M).
TEST(GroundTruthMetrics, TargetStatisticsOfConstructedDrawsAreExact) {
  const auto truth = truth_set(small_mixture(), 2);
  const auto& probes = *truth.probes;
  const int64_t count = probes.t.size(0);
  const auto r = probes.t * 0.5;
  const auto exact = truth.mixture->solve_ode(probes.x_t, probes.t, r).x;
  const auto a = (probes.bucket.to(torch::kFloat64) + 1) * 0.01;
  const auto b = (probes.bucket.to(torch::kFloat64) + 1) * 0.003;
  const auto signs = torch::tensor({1.0, -1.0, 1.0, -1.0}, kF64);
  const auto v = ((torch::arange(48).remainder(3) == 0).to(torch::kFloat64) * 2 - 1).reshape({3, 4, 4});
  const auto draws = exact.unsqueeze(1) + b.reshape({-1, 1, 1, 1, 1}) +
                     a.reshape({-1, 1, 1, 1, 1}) * signs.reshape({1, 4, 1, 1, 1}) * v.unsqueeze(0).unsqueeze(0);
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{count, 4, 3, 4, 4}));
  const auto values = evaluate("target_stats", targets(r, draws), truth).values;
  const auto var_names = bucket_output_names("tvar"), bias_names = bucket_output_names("tbias");
  double var_sum = 0, bias_sum = 0;
  for (int64_t bucket = 0; bucket < truth_bucket_count(); ++bucket) {
    const double ab = 0.01 * static_cast<double>(bucket + 1), bb = 0.003 * static_cast<double>(bucket + 1);
    const double variance = 4 * ab * ab / 3, bias = bb * bb - ab * ab / 3;
    EXPECT_NEAR(values.at(var_names[static_cast<size_t>(bucket)]), variance, 1e-12);
    EXPECT_NEAR(values.at(bias_names[static_cast<size_t>(bucket)]), bias, 1e-12);
    var_sum += variance;
    bias_sum += bias;
  }
  EXPECT_NEAR(values.at("tvar"), var_sum / static_cast<double>(truth_bucket_count()), 1e-12);
  EXPECT_NEAR(values.at("tbias"), bias_sum / static_cast<double>(truth_bucket_count()), 1e-12);
}

// Independent noise of standard deviation sigma around x*: variance sigma^2 and squared bias 0 in
// expectation. Per bucket 8 probes x 32 draws x 48 values: the variance's relative standard deviation
// is sqrt(2 / (8 x 31 x 48)) = 1.3%, the bias estimate's sigma^2 / 32 x sqrt(2 / (8 x 48)) = 2.3e-3 sigma^2
// (leaving out the - variance / M correction would give sigma^2 / 32 = 0.031 sigma^2).
TEST(GroundTruthMetrics, TargetStatisticsOfNoisyDrawsAreUnbiased) {
  const auto truth = truth_set(small_mixture(), 8);
  const auto& probes = *truth.probes;
  const auto r = probes.t * 0.3;
  const auto exact = truth.mixture->solve_ode(probes.x_t, probes.t, r).x;
  const double sigma = 0.05;
  auto g = make_generator(9, "test-noise");
  const auto draws = exact.unsqueeze(1) + sigma * torch::randn({probes.t.size(0), 32, 3, 4, 4}, g, kF64);
  const auto values = evaluate("target_stats", targets(r, draws), truth).values;
  for (const auto& name : bucket_output_names("tvar")) EXPECT_NEAR(values.at(name), sigma * sigma, 0.06 * sigma * sigma) << name;
  for (const auto& name : bucket_output_names("tbias")) EXPECT_NEAR(values.at(name), 0.0, 0.01 * sigma * sigma) << name;
}

TEST(GroundTruthMetrics, TargetStatisticsDoNotApplyWithoutTargetsAndRefuseBadShapes) {
  const auto truth = truth_set(small_mixture(), 1);
  const auto& probes = *truth.probes;
  const auto none = evaluate("target_stats", targets({}, {}), truth);
  EXPECT_TRUE(none.values.empty());
  EXPECT_TRUE(none.details.contains("not_applicable"));
  EXPECT_NE(metric_registry().create("target_stats")->summary(none).find("not applicable"), std::string::npos);
  const auto one_draw = probes.x_t.unsqueeze(1);
  EXPECT_NE(test::input_error_message([&] { evaluate("target_stats", targets(probes.t * 0.5, one_draw), truth); })
                .find("at least 2 draws"),
            std::string::npos);
  EXPECT_NE(test::input_error_message([&] { evaluate("target_stats", targets(probes.t * 0.5, probes.x_t), truth); })
                .find("x_r (P, M, C, H, W)"),
            std::string::npos);
}

TEST(GroundTruthMetrics, BucketMeansAverageEachBucketAndMarkEmptyOnes) {
  const auto means = bucket_means(torch::tensor({1.0, 3.0, 10.0}, kF64), torch::tensor({0, 0, 2}, torch::kInt64));
  ASSERT_EQ(means.size(), static_cast<size_t>(truth_bucket_count()));
  EXPECT_EQ(means[0], 2.0);
  EXPECT_TRUE(std::isnan(means[1]));
  EXPECT_EQ(means[2], 10.0);
  EXPECT_EQ(bucket_output_names("cerr").front(), "cerr_t0");
  EXPECT_EQ(bucket_output_names("cerr").back(), "cerr_t5");
}

// ground_truth_features of a gmm: spec: the file's mixture and the probe set of make_truth_probes.
TEST(GroundTruthMetrics, GroundTruthFeaturesOfAGmmSpec) {
  test::TempDir dir;
  const auto path = dir.file("mixture.npz");
  small_mixture()->save(path);
  const auto spec = "gmm:" + path;
  const auto truth = ground_truth_features(spec, 2);
  ASSERT_TRUE(truth.mixture);
  ASSERT_TRUE(truth.probes);
  EXPECT_EQ(truth.mixture->fingerprint(), small_mixture()->fingerprint());
  EXPECT_EQ(truth.probes->t.size(0), 2 * truth_bucket_count());
  EXPECT_TRUE(torch::equal(truth.probes->f_star, make_truth_probes(*truth.mixture, 2, 0).f_star));
  EXPECT_EQ(truth.sources.at(Feature::ground_truth), spec);
  EXPECT_EQ(truth.name, spec);
  EXPECT_FALSE(ground_truth_features(spec, 0).probes);
}

}  // namespace
}  // namespace cmbench
