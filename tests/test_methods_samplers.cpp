// Samplers against closed forms: EDM Heun with the exact denoiser of a Gaussian mixture reproduces
// its mean and covariance; CM and ECT multistep with the exact consistency function of isotropic
// Gaussian data give the predicted variances; per-image generators make any seed subset reproduce;
// classifier-free guidance combines the conditional and unconditional passes as D_u + w (D_c - D_u).
#include <gtest/gtest.h>

#include <cmath>

#include "core/torch_compat.h"
#include "methods/samplers.h"
#include "nets/analytic.h"
#include "nets/factory.h"

namespace cmbench {
namespace {

std::vector<torch::Generator> generators(int64_t first, int64_t count) {
  std::vector<torch::Generator> g;
  for (int64_t i = 0; i < count; ++i) g.push_back(compat::make_cpu_generator(static_cast<uint64_t>(first + i)));
  return g;
}

torch::Tensor latents(std::vector<torch::Generator>& g, int64_t channels) {
  return per_image_normal(g, {channels, 1, 1}, torch::kCPU);
}

// clamp(floor(x * 127.5 + 128), 0, 255) in the sampler's float64: 1/127.5 - 1e-13 maps to 128, where
// the same arithmetic in float32 gives 129.
TEST(Samplers, QuantizeImagesAsEdmInTheSamplersDtype) {
  const auto q = quantize_images(torch::tensor({-2.0, -1.0, 0.0, 1 / 127.5 - 1e-13, 0.5, 1.0, 3.0}, torch::kFloat64));
  EXPECT_EQ(q.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(q, torch::tensor({0, 0, 128, 128, 191, 255, 255}, torch::kUInt8)));
  const auto q32 = quantize_images(torch::tensor({-1.0f, 0.0f, 0.5f, 1.0f}));
  EXPECT_TRUE(torch::equal(q32, torch::tensor({0, 128, 191, 255}, torch::kUInt8)));
}

TEST(Samplers, HeunReproducesMixtureMoments) {
  const auto means = torch::tensor({-1.0, 0.5, 1.0, -0.5}, torch::kFloat64).view({2, 2, 1, 1});
  const auto variances = torch::tensor({0.04, 0.09}, torch::kFloat64);
  const auto weights = torch::tensor({0.3, 0.7}, torch::kFloat64);
  GaussianMixtureDenoiser exact(1, 2, means, variances, weights);
  const DenoiseFn denoise = [&](const torch::Tensor& x, const torch::Tensor& s) { return exact.denoise(x, s, {}, {}, {}); };
  const int64_t n = 4000;
  auto g = generators(0, n);
  const auto z = latents(g, 2);
  const auto result = heun_sample(denoise, z, g, HeunOptions().steps(32));
  EXPECT_EQ(result.nfe, 63);
  const auto x = result.images.view({n, 2});
  const auto mu = torch::tensor({0.3 * -1.0 + 0.7 * 1.0, 0.3 * 0.5 + 0.7 * -0.5}, torch::kFloat64);
  const auto m = means.view({2, 2});
  auto cov_want = torch::zeros({2, 2}, torch::kFloat64);
  for (int k = 0; k < 2; ++k)
    cov_want += weights[k] * (variances[k] * torch::eye(2, torch::kFloat64) + torch::outer(m[k], m[k]));
  cov_want -= torch::outer(mu, mu);
  const auto centered = x - x.mean(0);
  const auto cov = centered.t().mm(centered) / (n - 1);
  EXPECT_LT((x.mean(0) - mu).abs().max().item<double>(), 0.05);
  EXPECT_LT((cov - cov_want).abs().max().item<double>(), 0.05);
}

// Exact consistency function of N(mu, d^2 I) with the CM boundary at eps_b (eps_b = 0: EDM form).
DenoiseFn gaussian_consistency(double mu, double d, double eps_b) {
  return [=](const torch::Tensor& x, const torch::Tensor& t) {
    const auto scale = std::sqrt(d * d + eps_b * eps_b) / (d * d + t.square()).sqrt();
    return mu + (x - mu) * scale.view({-1, 1, 1, 1});
  };
}

double variance(const torch::Tensor& x) { return x.var().item<double>(); }

TEST(Samplers, EctAndCmMultistepVariances) {
  const double mu = 0.3, d = 0.5, t1 = 0.821, eps_b = 0.002;
  const int64_t n = 20000;
  // As `cmbench sample`: each image's generator draws its latent, then every re-noising sample.
  auto g1 = generators(100, n), g2 = generators(100, n), g3 = generators(100, n);
  const auto z = latents(g1, 1);
  latents(g2, 1);
  latents(g3, 1);
  // ECT one step: Var = 80^2 d^2 / (d^2 + 80^2).
  const double v_one = 6400 * d * d / (d * d + 6400);
  const auto one = ect_sample(gaussian_consistency(mu, d, 0), z, g1, {80.0});
  EXPECT_EQ(one.nfe, 1);
  EXPECT_NEAR(variance(one.images), v_one, 0.03 * v_one);
  EXPECT_NEAR(one.images.mean().item<double>(), mu, 0.02);
  // ECT two steps: re-noise t1 z, then Var = (v_one + t1^2) d^2 / (d^2 + t1^2).
  const auto two = ect_sample(gaussian_consistency(mu, d, 0), z, g2, {80.0, t1});
  const double v_two = (v_one + t1 * t1) * d * d / (d * d + t1 * t1);
  EXPECT_NEAR(variance(two.images), v_two, 0.03 * v_two);
  // CM two steps: boundary form and re-noise sqrt(t1^2 - eps_b^2) z.
  const auto cm = cm_sample(gaussian_consistency(mu, d, eps_b), z, g3, {80.0, t1}, eps_b);
  const double b2 = d * d + eps_b * eps_b;
  const double v_cm0 = 6400 * b2 / (d * d + 6400);
  const double v_cm = (v_cm0 + t1 * t1 - eps_b * eps_b) * b2 / (d * d + t1 * t1);
  EXPECT_NEAR(variance(cm.images), v_cm, 0.03 * v_cm);
  EXPECT_THROW(cm_sample(gaussian_consistency(mu, d, eps_b), z, g3, {80.0, 0.001}, eps_b), std::exception);
}

TEST(Samplers, SeedSubsetsReproduce) {
  const auto f = gaussian_consistency(0.0, 0.5, 0.0);
  auto all = generators(0, 5);
  const auto x_all = ect_sample(f, latents(all, 3), all, {80.0, 0.821, 0.1}).images;
  auto part = generators(3, 2);
  const auto x_part = ect_sample(f, latents(part, 3), part, {80.0, 0.821, 0.1}).images;
  EXPECT_TRUE(torch::equal(x_all.slice(0, 3, 5), x_part));
}

TEST(Samplers, ClassifierFreeGuidanceCombinesConditionalAndUnconditional) {
  auto net = make_preset_network("imagenet64-adm-tiny", 1);
  net->eval();
  {
    // EDM initializes the output layer to zero, so a fresh network ignores its labels: perturb it.
    torch::NoGradGuard no_grad;
    auto g = compat::make_cpu_generator(2);
    for (auto& p : net->parameters()) p.add_(torch::randn(p.sizes(), g, torch::kFloat32) * 0.05);
  }
  const auto labels = torch::nn::functional::one_hot(torch::tensor({3, 7}), 10).to(torch::kFloat32);
  const auto x = torch::randn({2, 3, 32, 32}) * 5;
  const auto sigma = torch::full({2}, 5.0, torch::kFloat64);
  torch::Tensor conditional, unconditional;
  {
    torch::NoGradGuard no_grad;
    conditional = net->forward(x, sigma, labels).to(torch::kFloat64);
    unconditional = net->forward(x, sigma, torch::zeros_like(labels)).to(torch::kFloat64);
  }
  ASSERT_FALSE(torch::allclose(conditional, unconditional)) << "the labels must matter for this test";
  EXPECT_TRUE(torch::equal(make_denoise_fn(*net, labels, 1.0)(x, sigma), conditional));
  EXPECT_TRUE(torch::allclose(make_denoise_fn(*net, labels, 0.0)(x, sigma), unconditional, 0, 1e-12));
  const auto guided = make_denoise_fn(*net, labels, 2.5)(x, sigma);
  EXPECT_TRUE(torch::allclose(guided, unconditional + 2.5 * (conditional - unconditional), 0, 1e-12));
}

}  // namespace
}  // namespace cmbench
