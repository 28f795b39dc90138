#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/gaussian_mixture.h"
#include "core/npy_torch.h"
#include "core/rng.h"
#include "test_util.h"

namespace cmbench {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// A random orthonormal (D, R) basis from a QR decomposition.
torch::Tensor orthonormal(int64_t d, int64_t r, uint64_t seed) {
  auto g = make_generator(seed, "test-basis");
  return std::get<0>(torch::linalg_qr(torch::randn({d, r}, g, kF64)));
}

// Three components on 2x2x3 images (D = 12), rank 2, well separated but overlapping at moderate sigma.
GaussianMixture small_mixture() {
  GaussianMixtureParts p;
  p.shape = {3, 2, 2};
  auto g = make_generator(7, "test-mixture");
  p.weights = torch::tensor({0.5, 0.3, 0.2}, kF64);
  p.means = torch::randn({3, 12}, g, kF64) * 0.6;
  p.noise_variances = torch::tensor({0.02, 0.05, 0.01}, kF64);
  p.factors = torch::stack({orthonormal(12, 2, 1), orthonormal(12, 2, 2), orthonormal(12, 2, 3)});
  p.factor_variances = torch::tensor({{0.3, 0.1}, {0.2, 0.0}, {0.5, 0.05}}, kF64);
  return GaussianMixture(p);
}

torch::Tensor dense_covariance(const GaussianMixtureParts& p, int64_t k) {
  const int64_t d = p.means.size(1);
  const auto u = p.factors[k];
  return p.noise_variances[k].item<double>() * torch::eye(d, kF64) + u.matmul(torch::diag(p.factor_variances[k])).matmul(u.t());
}

// log N(x; m, C) with dense linear algebra, the independent path the Woodbury forms are checked against.
torch::Tensor dense_log_normal(const torch::Tensor& x, const torch::Tensor& m, const torch::Tensor& c) {
  const auto y = x - m;
  const auto solved = torch::linalg_solve(c, y.t()).t();
  const auto logdet = std::get<1>(torch::linalg_slogdet(c));
  return -0.5 * (static_cast<double>(x.size(1)) * std::log(2 * M_PI) + logdet + (y * solved).sum(1));
}

TEST(GaussianMixture, DensityAndDenoiserEqualDenseLinearAlgebra) {
  const auto mixture = small_mixture();
  const auto& p = mixture.parts();
  auto g = make_generator(3, "x");
  const auto x = torch::randn({5, 3, 2, 2}, g, kF64);
  const auto sigma = torch::tensor({0.0, 0.05, 0.3, 1.0, 5.0}, kF64);
  const auto flat = x.reshape({5, 12});
  std::vector<torch::Tensor> logs, posts;
  for (int64_t k = 0; k < 3; ++k) {
    std::vector<torch::Tensor> lk, dk;
    for (int64_t n = 0; n < 5; ++n) {
      const double s2 = std::pow(sigma[n].item<double>(), 2);
      const auto c = dense_covariance(p, k) + s2 * torch::eye(12, kF64);
      lk.push_back(dense_log_normal(flat.slice(0, n, n + 1), p.means[k].unsqueeze(0), c));
      // D_k = m + Sigma (Sigma + s2)^-1 (x - m)
      dk.push_back(p.means[k] + dense_covariance(p, k).matmul(torch::linalg_solve(c, flat[n] - p.means[k])));
    }
    logs.push_back(torch::cat(lk) + std::log(p.weights[k].item<double>()));
    posts.push_back(torch::stack(dk));
  }
  const auto log_joint = torch::stack(logs, 1);  // (N, K)
  EXPECT_TRUE(torch::allclose(mixture.log_prob(x, sigma), log_joint.logsumexp(1), 1e-10, 1e-10));
  const auto resp = log_joint.softmax(1);
  EXPECT_TRUE(torch::allclose(mixture.responsibilities(x, sigma), resp, 1e-10, 1e-10));
  auto expected = torch::zeros({5, 12}, kF64);
  for (int64_t k = 0; k < 3; ++k) expected += resp.select(1, k).unsqueeze(1) * posts[k];
  expected[0] = flat[0];  // sigma 0: the observation itself
  EXPECT_TRUE(torch::allclose(mixture.denoise(x, sigma).reshape({5, 12}), expected, 1e-10, 1e-10));
}

TEST(GaussianMixture, MomentsAreTheMixturesAndDrawsFollowThem) {
  const auto mixture = small_mixture();
  const auto& p = mixture.parts();
  auto expected_mean = torch::zeros({12}, kF64);
  auto second = torch::zeros({12, 12}, kF64);
  for (int64_t k = 0; k < 3; ++k) {
    const double w = p.weights[k].item<double>();
    expected_mean += w * p.means[k];
    second += w * (dense_covariance(p, k) + torch::outer(p.means[k], p.means[k]));
  }
  EXPECT_TRUE(torch::allclose(mixture.mean(), expected_mean, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(mixture.covariance(), second - torch::outer(expected_mean, expected_mean), 1e-12, 1e-12));

  auto g = make_generator(11, "draws");
  const int64_t n = 200000;
  const auto draws = mixture.sample(n, g).reshape({n, 12});
  // Standard errors: sqrt(var / n) <= sqrt(1 / 2e5) ~ 2.2e-3 per element; 5 sigma.
  EXPECT_LT((draws.mean(0) - expected_mean).abs().max().item<double>(), 0.012);
  const auto centred = draws - draws.mean(0);
  const auto cov = centred.t().matmul(centred) / static_cast<double>(n - 1);
  EXPECT_LT((cov - mixture.covariance()).abs().max().item<double>(), 0.015);
  EXPECT_TRUE(torch::equal(mixture.sample(4, make_generator(12, "draws")), mixture.sample(4, make_generator(12, "draws"))));
}

TEST(GaussianMixture, PosteriorDrawsHaveThePosteriorMeanAndCovariance) {
  // One component: the posterior is Gaussian with covariance s2 Sigma (Sigma + s2)^-1.
  GaussianMixtureParts p = small_mixture().parts();
  p.weights = p.weights.slice(0, 0, 1);
  p.means = p.means.slice(0, 0, 1);
  p.noise_variances = p.noise_variances.slice(0, 0, 1);
  p.factors = p.factors.slice(0, 0, 1);
  p.factor_variances = p.factor_variances.slice(0, 0, 1);
  const GaussianMixture one(p);
  auto g = make_generator(5, "x");
  const auto x = torch::randn({1, 3, 2, 2}, g, kF64);
  const double sigma = 0.4;
  const int64_t n = 100000;
  const auto draws = one.sample_posterior(x.expand({n, 3, 2, 2}), torch::tensor(sigma, kF64), g).reshape({n, 12});
  const auto sig = dense_covariance(p, 0);
  const auto c = sig + sigma * sigma * torch::eye(12, kF64);
  const auto post_cov = sigma * sigma * sig.matmul(torch::linalg_inv(c));
  const auto post_mean = one.denoise(x, torch::tensor(sigma, kF64)).reshape({12});
  EXPECT_LT((draws.mean(0) - post_mean).abs().max().item<double>(), 5 * std::sqrt(0.2 / n));
  const auto centred = draws - draws.mean(0);
  const auto cov = centred.t().matmul(centred) / static_cast<double>(n - 1);
  EXPECT_LT((cov - post_cov).abs().max().item<double>(), 0.004);

  // A mixture: the draws average to the posterior mean (the ideal denoiser).
  const auto mixture = small_mixture();
  const auto many = mixture.sample_posterior(x.expand({n, 3, 2, 2}), torch::tensor(0.8, kF64), g).reshape({n, 12});
  EXPECT_LT((many.mean(0) - mixture.denoise(x, torch::tensor(0.8, kF64)).reshape({12})).abs().max().item<double>(), 0.01);
}

TEST(GaussianMixture, OdeSolutionOfOneComponentIsItsClosedForm) {
  // For N(m, Sigma) the PF-ODE scales each eigen-direction: x(s) - m = sqrt((e + s^2) / (e + t^2)) (x_t - m).
  GaussianMixtureParts p;
  p.shape = {1, 2, 2};
  p.weights = torch::ones({1}, kF64);
  p.means = torch::tensor({{0.2, -0.4, 0.1, 0.0}}, kF64);
  p.noise_variances = torch::tensor({0.01}, kF64);
  p.factors = orthonormal(4, 1, 9).unsqueeze(0);
  p.factor_variances = torch::tensor({{0.25}}, kF64);
  const GaussianMixture g1(p);
  const auto x = torch::tensor({1.5, -2.0, 0.3, 4.0, -1.0, 0.7, 2.2, 0.1}, kF64).reshape({2, 1, 2, 2});
  const auto t = torch::tensor({30.0, 0.7}, kF64);
  const auto r = torch::tensor({0.0, 0.05}, kF64);
  const auto solved = g1.solve_ode(x, t, r, 1e-9);
  const auto u = p.factors[0];  // (4, 1)
  auto expected = torch::zeros({2, 4}, kF64);
  for (int64_t n = 0; n < 2; ++n) {
    const double tn = t[n].item<double>(), rn = r[n].item<double>();
    const auto y = x[n].reshape({4}) - p.means[0];
    const auto along = u.matmul(u.t().matmul(y));
    const auto perp = y - along;
    const double s2 = 0.01, e = 0.26;
    expected[n] = p.means[0] + std::sqrt((s2 + rn * rn) / (s2 + tn * tn)) * perp + std::sqrt((e + rn * rn) / (e + tn * tn)) * along;
  }
  const double error = (solved.x.reshape({2, 4}) - expected).abs().max().item<double>();
  EXPECT_LT(error, 1e-8);
  EXPECT_LT(solved.error_bound, 1e-9);
  // The consistency function is the solve to 0.
  const auto f = g1.consistency_function(x.slice(0, 0, 1), t.slice(0, 0, 1), 1e-9);
  EXPECT_LT((f.x.reshape({4}) - expected[0]).abs().max().item<double>(), 1e-8);
}

TEST(GaussianMixture, OdeOfAMixtureIsConsistentAlongItsTrajectory) {
  // f*(x_t, t) = f*(x_s, s) for x_s on the same trajectory (the defining property of f*), and a
  // solve's stated error bound covers the difference of two tolerances.
  const auto mixture = small_mixture();
  auto g = make_generator(2, "x");
  const auto x0 = mixture.sample(6, g);
  const auto t = torch::full({6}, 5.0, kF64);
  const auto x_t = x0 + 5.0 * torch::randn(x0.sizes(), g, kF64);
  const auto mid = mixture.solve_ode(x_t, t, torch::full({6}, 0.3, kF64), 1e-9);
  const auto direct = mixture.consistency_function(x_t, t, 1e-9);
  const auto via = mixture.consistency_function(mid.x, torch::full({6}, 0.3, kF64), 1e-9);
  EXPECT_LT((direct.x - via.x).abs().max().item<double>(), 1e-7);
  const auto loose = mixture.consistency_function(x_t, t, 1e-4);
  EXPECT_LE((loose.x - direct.x).abs().max().item<double>(), 20 * loose.error_bound + 1e-9);
  EXPECT_GT(direct.steps, 16);
}

TEST(GaussianMixture, SavesAndLoadsExactlyAndRefusesBadFiles) {
  const test::TempDir dir;
  const auto mixture = small_mixture();
  const auto path = dir.file("m.npz");
  mixture.save(path);
  const auto back = GaussianMixture::load(path);
  EXPECT_EQ(back.fingerprint(), mixture.fingerprint());
  EXPECT_EQ(back.shape(), mixture.shape());
  EXPECT_TRUE(torch::equal(back.parts().factors, mixture.parts().factors));

  auto arrays = read_npz(path);
  arrays.erase("means");
  write_npz(dir.file("missing.npz"), arrays);
  EXPECT_THROW(GaussianMixture::load(dir.file("missing.npz")), InputError);
  auto bad = mixture.parts();
  bad.factors = bad.factors * 2.0;
  EXPECT_THROW(GaussianMixture(bad, "x"), InputError);
  bad = mixture.parts();
  bad.noise_variances = bad.noise_variances - 1.0;
  EXPECT_THROW(GaussianMixture(bad, "x"), InputError);
  bad = mixture.parts();
  bad.means = bad.means.slice(1, 0, 11);
  EXPECT_THROW(GaussianMixture(bad, "x"), InputError);
}

TEST(GaussianMixture, ProbesCoverEveryBucketWithExactTargets) {
  const auto mixture = small_mixture();
  const auto probes = make_truth_probes(mixture, 4, 1);
  const auto& edges = truth_bucket_edges();
  ASSERT_EQ(probes.t.size(0), 4 * truth_bucket_count());
  for (int64_t i = 0; i < probes.t.size(0); ++i) {
    const auto b = probes.bucket[i].item<int64_t>();
    EXPECT_GE(probes.t[i].item<double>(), edges[b]);
    EXPECT_LE(probes.t[i].item<double>(), edges[b + 1]);
  }
  const auto again = make_truth_probes(mixture, 4, 1);
  EXPECT_TRUE(torch::equal(again.f_star, probes.f_star));
  const auto check = mixture.consistency_function(probes.x_t, probes.t, 1e-9);
  EXPECT_LT((check.x - probes.f_star).abs().max().item<double>(), 1e-6);
}

TEST(GaussianMixture, QuantizationIsTheProgramsImageRule) {
  const auto x = torch::tensor({-1.2, -1.0, 0.0, 0.999, 1.0, 2.0}, kF64).reshape({1, 1, 2, 3});
  const auto q = quantize_images(x);
  EXPECT_EQ(q.sizes(), (std::vector<int64_t>{1, 2, 3, 1}));
  const std::vector<int> expected = {0, 0, 128, 255, 255, 255};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q.reshape({-1})[i].item<int>(), expected[static_cast<size_t>(i)]);
  EXPECT_NEAR(dequantize_images(q).reshape({-1})[2].item<double>(), 128 / 127.5 - 1, 1e-15);
}

}  // namespace
}  // namespace cmbench
