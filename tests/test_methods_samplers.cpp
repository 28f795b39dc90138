// Samplers against closed forms: EDM Heun with the exact denoiser of a Gaussian mixture reproduces
// its mean and covariance; CM and ECT multistep with the exact consistency function of isotropic
// Gaussian data give the predicted variances; per-image generators make any seed subset reproduce;
// classifier-free guidance combines the conditional and unconditional passes as D_u + w (D_c - D_u);
// EDM's stochastic sampler against NVlabs/edm's edm_sampler (tests/data/samplers/README.md); the
// consistency samplers' x0 clamp.
#include <gtest/gtest.h>

#include "core/image_values.h"

#include <cmath>

#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/torch_compat.h"
#include "methods/samplers.h"
#include "test_util.h"
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
  const auto q = quantize_values(torch::tensor({-2.0, -1.0, 0.0, 1 / 127.5 - 1e-13, 0.5, 1.0, 3.0}, torch::kFloat64));
  EXPECT_EQ(q.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(q, torch::tensor({0, 0, 128, 128, 191, 255, 255}, torch::kUInt8)));
  const auto q32 = quantize_values(torch::tensor({-1.0f, 0.0f, 0.5f, 1.0f}));
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


// The exact denoiser of tests/data/samplers/README.md: 0.5 N(-0.5, 0.01) + 0.5 N(0.5, 0.01) per element.
torch::Tensor mixture_denoise(const torch::Tensor& x, const torch::Tensor& sigma) {
  const auto total = 0.01 + sigma.square().view({-1, 1, 1, 1});
  const auto log_a = -(x + 0.5).square() / (2 * total), log_b = -(x - 0.5).square() / (2 * total);
  const auto top = torch::maximum(log_a, log_b);
  const auto w_a = (log_a - top).exp(), w_b = (log_b - top).exp();
  const auto post_a = -0.5 + 0.01 * (x + 0.5) / total, post_b = 0.5 + 0.01 * (x - 0.5) / total;
  return (w_a * post_a + w_b * post_b) / (w_a + w_b);
}

struct EdmCase {
  const char* name;
  HeunOptions options;
};

TEST(Samplers, HeunWithChurnReproducesEdmSampler) {
  const auto arrays = read_npz(test::source_path("tests/data/samplers/edm_heun_churn.npz"));
  const std::vector<EdmCase> cases{
      {"deterministic", HeunOptions().steps(10)},
      {"churn_imagenet", HeunOptions().steps(18).s_churn(40).s_min(0.05).s_max(50).s_noise(1.003)},
      {"churn_window", HeunOptions().steps(12).s_churn(80).s_min(0.5).s_max(10).s_noise(1.0)},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    const auto seeds = to_tensor(arrays.at(name + "_seeds"));
    auto g = generators(seeds[0].item<int64_t>(), seeds.size(0));
    const auto z = per_image_normal(g, {2, 3, 3}, torch::kCPU);
    ASSERT_TRUE(torch::equal(z, to_tensor(arrays.at(name + "_latents")))) << name << ": the generators differ";
    const auto result = heun_sample(mixture_denoise, z, g, c.options);
    const auto want = to_tensor(arrays.at(name + "_images"));
    EXPECT_LT((result.images - want).abs().max().item<double>(), 1e-12) << name;
  }
}

// S_churn 0 is the deterministic solver bit for bit (the draws are made and discarded, as EDM does);
// churn outside [S_min, S_max] changes nothing either.
TEST(Samplers, ChurnAddsNoiseOnlyInsideItsWindow) {
  auto g0 = generators(0, 6), g1 = generators(0, 6), g2 = generators(0, 6), g3 = generators(0, 6);
  const auto z = per_image_normal(g0, {2, 3, 3}, torch::kCPU);
  for (auto* g : {&g1, &g2, &g3}) per_image_normal(*g, {2, 3, 3}, torch::kCPU);
  const auto plain = heun_sample(mixture_denoise, z, g0, HeunOptions().steps(8)).images;
  const auto zero_churn = heun_sample(mixture_denoise, z, g1, HeunOptions().steps(8).s_noise(1.5).s_min(1)).images;
  EXPECT_TRUE(torch::equal(plain, zero_churn));
  // The grid of 8 points spans 80 to 0.002: a window above 80 or between two grid points is empty.
  const auto outside = heun_sample(mixture_denoise, z, g2, HeunOptions().steps(8).s_churn(40).s_min(81)).images;
  EXPECT_TRUE(torch::equal(plain, outside));
  const auto inside = heun_sample(mixture_denoise, z, g3, HeunOptions().steps(8).s_churn(40).s_min(1)).images;
  EXPECT_GT((inside - plain).abs().max().item<double>(), 1e-3);
}

TEST(Samplers, ChurnIsDeterministicPerSeed) {
  const auto options = HeunOptions().steps(6).s_churn(30);
  auto a = generators(5, 3), b = generators(5, 3), part = generators(6, 2);
  const auto za = per_image_normal(a, {2, 3, 3}, torch::kCPU), zb = per_image_normal(b, {2, 3, 3}, torch::kCPU);
  const auto zp = per_image_normal(part, {2, 3, 3}, torch::kCPU);
  const auto x = heun_sample(mixture_denoise, za, a, options).images;
  EXPECT_TRUE(torch::equal(x, heun_sample(mixture_denoise, zb, b, options).images));
  EXPECT_TRUE(torch::equal(x.slice(0, 1), heun_sample(mixture_denoise, zp, part, options).images));
}

// clip_denoised: every x0 estimate clamped to [-1, 1]; a denoiser that stays inside is unchanged.
TEST(Samplers, ClampChangesOnlyEstimatesOutsideTheRange) {
  const auto x = torch::tensor({-3.0, -1.0, -0.25, 0.0, 0.9, 1.0, 2.5}, torch::kFloat64).view({7, 1, 1, 1});
  const auto sigma = torch::ones({7}, torch::kFloat64);
  const DenoiseFn identity = [](const torch::Tensor& v, const torch::Tensor&) { return v; };
  const auto clamped = clamp_denoised(identity)(x, sigma);
  EXPECT_TRUE(torch::equal(clamped.flatten(), torch::tensor({-1.0, -1.0, -0.25, 0.0, 0.9, 1.0, 1.0}, torch::kFloat64)));

  // The mixture's estimates stay inside [-1, 1]: multistep samples agree bit for bit with the clamp.
  auto g0 = generators(0, 4), g1 = generators(0, 4);
  const auto z = per_image_normal(g0, {2, 3, 3}, torch::kCPU);
  per_image_normal(g1, {2, 3, 3}, torch::kCPU);
  const auto plain = ect_sample(mixture_denoise, z, g0, {80.0, 0.821}).images;
  EXPECT_TRUE(torch::equal(plain, ect_sample(clamp_denoised(mixture_denoise), z, g1, {80.0, 0.821}).images));

  // Scaled by 3 they leave it: the clamped run differs, and its output stays inside.
  const DenoiseFn wide = [](const torch::Tensor& v, const torch::Tensor& s) { return 3.0 * mixture_denoise(v, s); };
  auto g2 = generators(0, 4), g3 = generators(0, 4);
  per_image_normal(g2, {2, 3, 3}, torch::kCPU);
  per_image_normal(g3, {2, 3, 3}, torch::kCPU);
  const auto loose = cm_sample(wide, z, g2, {80.0, 0.821}, 0.002).images;
  const auto tight = cm_sample(clamp_denoised(wide), z, g3, {80.0, 0.821}, 0.002).images;
  ASSERT_GT(loose.abs().max().item<double>(), 1.0);
  EXPECT_LE(tight.abs().max().item<double>(), 1.0);
  EXPECT_FALSE(torch::equal(loose, tight));
}

}  // namespace
}  // namespace cmbench
