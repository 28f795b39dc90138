// SCT's variance-reduced target (METHODS.md §7) against the exact posterior mean of a Gaussian
// mixture, and against ECT's target with a one-image reference set.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "core/torch_compat.h"
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


// A float32 batch of 16 images whose x0_hat and weights are compared with and without bf16 autocast
// (the training loop's mixed precision): the posterior is precision-critical and stays in float32/64.
struct AutocastCase {
  TrainingBatch batch;
  TensorMap draws;
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  AutocastCase() {
    auto gen = make_generator(21, "bf16");
    const auto x0 = (torch::rand({16, 3, 8, 8}, gen, torch::kFloat64) * 2 - 1).to(torch::kFloat32);
    batch = TrainingBatch{x0, {}, {}, {}, {}, {}};
    // Small t: x0_hat is near x0 (a one-image posterior); large t: the weights spread over the batch,
    // so errors in the distances show in them.
    const auto t = torch::cat({torch::full({6}, 0.02), torch::full({5}, 1.5), torch::full({5}, 20.0)}).to(torch::kFloat32);
    draws = {{"t", t}, {"eps", torch::randn({16, 3, 8, 8}, gen, torch::kFloat64).to(torch::kFloat32)}};
  }
  LossResult run(const std::string& options, bool bf16) const {
    auto method = make_method(Config::from_string("name = \"sct\"\n" + options, "<test>"));
    StepContext ctx;
    ctx.step = 3 * 25000;
    std::optional<compat::AutocastGuard> autocast;
    if (bf16) autocast.emplace(c10::DeviceType::CPU, torch::kBFloat16);
    return method->loss(batch, draws, ctx, nets);
  }
};

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(Sct, TargetUnderBf16AutocastIsComputedInFloat32) {
  const AutocastCase c;
  const auto exact = c.run("", false), mixed = c.run("", true);
  // bf16 keeps 8 bits: a bf16 product would be off by about 4e-3 for |x0| near 1.
  EXPECT_LT(max_difference(mixed.outputs.at("x0_hat"), exact.outputs.at("x0_hat")), 1e-6);
  EXPECT_LT(max_difference(mixed.outputs.at("x_r"), exact.outputs.at("x_r")), 1e-5);
}

TEST(Sct, Float32SoftmaxComputesDistancesInFloat32UnderAutocast) {
  const AutocastCase c;
  const auto exact = c.run("softmax_dtype = \"float32\"", false), mixed = c.run("softmax_dtype = \"float32\"", true);
  EXPECT_EQ(mixed.outputs.at("weights").scalar_type(), torch::kFloat32);
  EXPECT_LT(max_difference(mixed.outputs.at("weights"), exact.outputs.at("weights")), 1e-5);
  // And float32 agrees with the float64 default to float32 rounding.
  const auto reference = c.run("", false);
  EXPECT_LT(max_difference(exact.outputs.at("weights"), reference.outputs.at("weights")), 1e-4);
}

// pool_size R is the whole reference count (the batch plus R - B drawn images, METHODS.md §7); the
// sample's own x0 must stay in it, so R <= B means the batch alone (no extra images are drawn).
TEST(Sct, PoolNoLargerThanTheBatchIsTheBatchAlone) {
  auto gen = make_generator(8, "pool");
  const auto x0 = torch::rand({8, 3, 4, 4}, gen, torch::kFloat64) * 2 - 1;
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  TensorMap draws{{"t", torch::full({8}, 0.8, torch::kFloat64)}, {"eps", torch::randn({8, 3, 4, 4}, gen, torch::kFloat64)}};
  const auto batch_only = make_method(table("name = \"sct\"\nreference_set = \"batch\""));
  for (int64_t pool : {8, 4}) {
    auto method = make_method(table("name = \"sct\"\nreference_set = \"pool\"\npool_size = " + std::to_string(pool)));
    ASSERT_EQ(method->reference_pool_size(8), 0);
    const TrainingBatch batch{x0, {}, {}, {}, {}, {}};
    const auto result = method->loss(batch, draws, StepContext{}, nets);
    const auto want = batch_only->loss(batch, draws, StepContext{}, nets);
    EXPECT_EQ(max_difference(result.outputs.at("x0_hat"), want.outputs.at("x0_hat")), 0.0) << "pool_size " << pool;
  }
}

// Classifier-free guidance training: a row whose label was dropped trains the unconditional model, so
// its posterior runs over every reference, not over its own (hidden) class.
TEST(Sct, DroppedLabelRowsUseTheUnconditionalPosterior) {
  auto gen = make_generator(3, "cfg");
  const auto x0 = torch::rand({6, 3, 2, 2}, gen, torch::kFloat64);
  const auto labels = torch::one_hot(torch::tensor({0, 1, 2, 0, 1, 2}), 3).to(torch::kFloat64);
  auto dropped = labels.clone();
  dropped[0].zero_();
  Networks nets{std::make_shared<ToyDenoiser>(0.7, 0.3, PrecondConfig{}), nullptr, nullptr};
  TensorMap draws{{"t", torch::full({6}, 50.0, torch::kFloat64)},
                  {"eps", torch::randn({6, 3, 2, 2}, gen, torch::kFloat64)},
                  {"labels", dropped}};
  const auto result = make_method("sct")->loss(TrainingBatch{x0, labels, {}, {}, {}, {}}, draws, StepContext{}, nets);
  const auto w = result.outputs.at("weights");
  // Row 0: every reference weighs about 1/6 at t = 50; the other rows stay within their class.
  EXPECT_GT(w[0].min().item<double>(), 0.1);
  const auto same = labels.mm(labels.t());
  EXPECT_EQ((w.slice(0, 1) * (1 - same.slice(0, 1))).abs().max().item<double>(), 0.0);
}

}  // namespace
}  // namespace cmbench
