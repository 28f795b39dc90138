// SCT's variance-reduced target (METHODS.md §7) against the exact posterior mean of a Gaussian
// mixture, and against ECT's target with a one-image reference set.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "methods/registry.h"
#include "methods/toy_networks.h"
#include "nets/analytic.h"

namespace cmbench {
namespace {

Config table(const std::string& text) { return Config::from_string(text, "<test>"); }

TEST(Sct, OneImageReferenceSetEqualsEct) {
  auto gen = make_generator(5, "sct");
  const auto x0 = torch::rand({1, 3, 4, 4}, gen, torch::kFloat64) * 2 - 1;
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  TensorMap draws{{"t", torch::tensor({2.5}, torch::kFloat64)}, {"eps", torch::randn({1, 3, 4, 4}, gen, torch::kFloat64)}};
  StepContext ctx;
  ctx.step = 2 * 25000;
  TrainingBatch batch{x0, {}, {}, {}, {}, {}};
  const auto ect = make_method("ect")->loss(batch, draws, ctx, nets);
  const auto sct = make_method("sct")->loss(batch, draws, ctx, nets);
  ASSERT_GT(ect.outputs.at("r").item<double>(), 0.0);
  EXPECT_LE((sct.outputs.at("x_r") - ect.outputs.at("x_r")).abs().max().item<double>(), 1e-12);
  EXPECT_LE((sct.outputs.at("target") - ect.outputs.at("target")).abs().max().item<double>(), 1e-12);
  EXPECT_LE((sct.per_sample - ect.per_sample).abs().max().item<double>(), 1e-12 * ect.per_sample.abs().max().item<double>());
}

// x0 from a 2-D mixture; x0_hat for a few fixed noisy points with a growing reference pool
// converges to the exact posterior mean E[x0 | x_t] of the mixture.
TEST(Sct, PoolEstimateConvergesToMixturePosteriorMean) {
  const auto means = torch::tensor({-1.0, 1.0, 0.5, -0.5}, torch::kFloat64).view({2, 2, 1, 1});
  const auto variances = torch::tensor({0.04, 0.09}, torch::kFloat64);
  const auto weights = torch::tensor({0.3, 0.7}, torch::kFloat64);
  GaussianMixtureDenoiser exact(1, 2, means, variances, weights);
  auto draw_mixture = [&](int64_t n, torch::Generator g) {
    const auto k = (torch::rand({n}, g, torch::kFloat64) < 0.3).logical_not().to(torch::kInt64);
    const auto sd = variances.index_select(0, k).sqrt().view({n, 1, 1, 1});
    return means.index_select(0, k) + sd * torch::randn({n, 2, 1, 1}, g, torch::kFloat64);
  };
  auto gen = make_generator(11, "gmm");
  const int64_t B = 8;
  const auto x0 = draw_mixture(B, gen);
  const auto t = torch::full({B}, 0.6, torch::kFloat64);
  const auto eps = torch::randn({B, 2, 1, 1}, gen, torch::kFloat64);
  const auto x_t = x0 + 0.6 * eps;
  const auto want = exact.denoise(x_t, t, {}, {}, PrecondMode{});

  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  StepContext ctx;
  std::vector<double> errors;
  for (int64_t pool : {16, 256, 4096, 65536}) {
    auto method = make_method(table("name = \"sct\"\nreference_set = \"pool\"\npool_size = " + std::to_string(pool)));
    ASSERT_EQ(method->reference_pool_size(B), pool - B);
    TrainingBatch batch{x0, {}, draw_mixture(pool - B, gen), {}, {}, {}};
    const auto result = method->loss(batch, {{"t", t}, {"eps", eps}}, ctx, nets);
    errors.push_back((result.outputs.at("x0_hat") - want).abs().max().item<double>());
  }
  EXPECT_LT(errors.back(), 0.02);
  EXPECT_LT(errors.back(), errors.front() / 4);
}

TEST(Sct, ClassRestrictionKeepsWeightsWithinClass) {
  auto gen = make_generator(2, "cls");
  const auto x0 = torch::rand({6, 3, 2, 2}, gen, torch::kFloat64);
  const auto labels = torch::one_hot(torch::tensor({0, 1, 2, 0, 1, 2}), 3).to(torch::kFloat64);
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  TensorMap draws{{"t", torch::full({6}, 50.0, torch::kFloat64)}, {"eps", torch::randn({6, 3, 2, 2}, gen, torch::kFloat64)}};
  const auto result = make_method("sct")->loss(TrainingBatch{x0, labels, {}, {}, {}, {}}, draws, StepContext{}, nets);
  const auto w = result.outputs.at("weights");
  const auto same = labels.mm(labels.t());
  EXPECT_EQ((w * (1 - same)).abs().max().item<double>(), 0.0);
  EXPECT_NEAR(w.sum(1).sub(1).abs().max().item<double>(), 0.0, 1e-15);
  EXPECT_GT(w[0][3].item<double>(), 0.1);  // at t = 50 both images of class 0 weigh about equally
}

}  // namespace
}  // namespace cmbench
