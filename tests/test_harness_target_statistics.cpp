// Target statistics against closed forms: for one Gaussian component N(m, v I), ECT's one-sample
// target (r/t) x_t + (1 - r/t) x0 with x0 ~ p(x0 | x_t) has variance (1 - r/t)^2 v t^2 / (v + t^2) per
// dimension and mean the Euler step of the exact denoiser; SCT's reference set lowers the variance.
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "harness/target_statistics.h"
#include "methods/registry.h"
#include "metrics/target_spread.h"

namespace cmbench {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

GaussianMixture one_gaussian(double v) {
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::ones({1}, kF64);
  p.means = torch::full({1, 48}, 0.1, kF64);
  p.noise_variances = torch::tensor({v}, kF64);
  return GaussianMixture(p);
}

StepContext context(int64_t step) {
  StepContext ctx;
  ctx.step = step;
  ctx.total_steps = std::max<int64_t>(step, 1);
  ctx.global_batch = 32;
  ctx.generator = make_generator(0, "ctx");
  return ctx;
}

TEST(TargetStatistics, EctVarianceAndBiasAreTheClosedForms) {
  const double v = 0.05;
  const auto mixture = one_gaussian(v);
  const auto probes = make_truth_probes(mixture, 2, 4);
  const auto method = make_method("ect");
  const auto ctx = context(2 * 25000);
  const auto answers = ground_truth_target_estimates(*method, mixture, probes, 32, 4000, ctx);
  ASSERT_TRUE(answers.target_r.defined());
  ASSERT_EQ(answers.target_x_r.size(1), 4000);
  const auto& r = answers.target_r;
  const auto ratio = r / probes.t;
  const auto expected_var = (1 - ratio).square() * v * probes.t.square() / (v + probes.t.square());
  const auto draws = answers.target_x_r.reshape({probes.t.size(0), 4000, 48});
  const auto measured_var = draws.var(1).mean(1);
  // Relative standard error of a variance over 4000 x 48 values: sqrt(2 / 192000) ~ 0.3%.
  EXPECT_TRUE(torch::allclose(measured_var, expected_var, 0.02, 1e-14)) << measured_var << expected_var;

  // The exact ODE point of one Gaussian: m + sqrt((v + r^2) / (v + t^2)) (x_t - m).
  const auto m = mixture.parts().means.reshape({1, 3, 4, 4});
  const auto shape = std::vector<int64_t>{-1, 1, 1, 1};
  const auto exact = m + ((v + r.square()) / (v + probes.t.square())).sqrt().reshape(shape) * (probes.x_t - m);
  const auto euler = ratio.reshape(shape) * probes.x_t +
                     (1 - ratio).reshape(shape) * mixture.denoise(probes.x_t, probes.t);
  const auto spread = target_spread(answers.target_x_r, exact, probes.bucket, truth_bucket_count());
  const auto per_probe_bias = (euler - exact).reshape({-1, 48}).square().mean(1);
  for (int64_t b = 0; b < truth_bucket_count(); ++b) {
    const double want = per_probe_bias.masked_select(probes.bucket == b).mean().item<double>();
    const double var = spread.variance[static_cast<size_t>(b)];
    // The unbiased estimate scatters by about sqrt(4 var want / (M D)) + var sqrt(2 / (M D)) / M.
    EXPECT_NEAR(spread.bias2[static_cast<size_t>(b)], want,
                6 * std::sqrt(4 * var * want / (4000 * 48)) + 6 * var * std::sqrt(2.0 / 48) / 4000 + 1e-12) << b;
  }
  // The solver's point and the closed form agree.
  const auto solved = mixture.solve_ode(probes.x_t, probes.t, r);
  EXPECT_LT((solved.x - exact).abs().max().item<double>(), 1e-6);
}

TEST(TargetStatistics, SctVarianceFallsAsTheReferenceSetGrows) {
  // Two well-separated components: at large t the own image's posterior spans both, the references
  // average it out.
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::tensor({0.5, 0.5}, kF64);
  p.means = torch::cat({torch::full({1, 48}, -0.5, kF64), torch::full({1, 48}, 0.5, kF64)});
  p.noise_variances = torch::tensor({0.02, 0.02}, kF64);
  const GaussianMixture mixture(p);
  const auto probes = make_truth_probes(mixture, 8, 5);
  const auto ctx = context(0);
  std::vector<double> variance;
  for (const auto* text : {"name = \"ect\"", "name = \"sct\"", "name = \"sct\"\nreference_set = \"pool\"\npool_size = 256",
                           "name = \"sct\"\nreference_set = \"pool\"\npool_size = 2048"}) {
    const auto method = make_method(Config::from_string(text, "<test>"));
    const auto answers = ground_truth_target_estimates(*method, mixture, probes, 32, 24, ctx);
    const auto spread = target_spread(answers.target_x_r, mixture.solve_ode(probes.x_t, probes.t, answers.target_r).x,
                                      probes.bucket, truth_bucket_count());
    variance.push_back(spread.variance.back());  // t in [10, 80]
  }
  EXPECT_LT(variance[1], variance[0]);
  EXPECT_LT(variance[2], variance[1]);
  EXPECT_LT(variance[3], variance[2]);
}

TEST(TargetStatistics, EmpiricalEctIsUnbiasedForTheEmpiricalEulerStep) {
  auto gen = make_generator(3, "images");
  const auto images = torch::rand({200, 3, 4, 4}, gen, kF64) * 2 - 1;
  auto probes = make_image_probes(images, 3, 1);
  const auto method = make_method("ect");
  const auto answers = empirical_target_estimates(*method, images, probes, 32, 3000, context(25000));
  ASSERT_TRUE(probes.reference.defined());
  const auto spread = target_spread(answers.target_x_r, probes.reference, probes.bucket, truth_bucket_count());
  for (int64_t b = 0; b < truth_bucket_count(); ++b) {
    const double var = spread.variance[static_cast<size_t>(b)];
    EXPECT_NEAR(spread.bias2[static_cast<size_t>(b)], 0.0, 6 * var / std::sqrt(3000.0 * 48) + 1e-12) << b;
  }
  // SCT with the whole image set as references has (almost) no variance left at large t.
  const auto sct = make_method(Config::from_string("name = \"sct\"\nreference_set = \"pool\"\npool_size = 4096", "<t>"));
  auto probes_sct = make_image_probes(images, 3, 1);
  const auto pooled = empirical_target_estimates(*sct, images, probes_sct, 32, 8, context(25000));
  const auto pooled_spread = target_spread(pooled.target_x_r, probes_sct.reference, probes_sct.bucket, truth_bucket_count());
  EXPECT_LT(pooled_spread.variance.back(), spread.variance.back() / 10);
}

}  // namespace
}  // namespace cmbench
