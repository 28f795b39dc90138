// Analytic denoisers against closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "nets/analytic.h"
#include "nets/factory.h"

namespace cmbench {
namespace {

TEST(NetsAnalytic, GaussianPosteriorMean) {
  GaussianDenoiser d(4, 1, torch::tensor(0.3, torch::kFloat64), 0.5);
  const auto x = torch::randn({3, 1, 4, 4}, torch::kFloat64);
  const auto sigma = torch::tensor({0.0, 0.5, 2.0}, torch::kFloat64);
  const auto out = d.forward(x, sigma);
  EXPECT_TRUE(torch::equal(out[0], x[0]));
  for (int i = 1; i < 3; ++i) {
    const double s = sigma[i].item<double>();
    const auto want = 0.3 + 0.25 / (0.25 + s * s) * (x[i] - 0.3);
    EXPECT_LT((out[i] - want).abs().max().item<double>(), 1e-14);
  }
}

TEST(NetsAnalytic, MixtureMatchesDirectSum) {
  const int64_t res = 2, ch = 1, dim = 4;
  const auto means = torch::tensor({-1.0, 0.2, 1.5}, torch::kFloat64);
  const auto vars = torch::tensor({0.04, 0.0, 0.25}, torch::kFloat64);
  const auto weights = torch::tensor({0.2, 0.5, 0.3}, torch::kFloat64);
  GaussianMixtureDenoiser d(res, ch, means, vars, weights);
  const auto x = torch::randn({5, ch, res, res}, torch::kFloat64) * 1.5;
  const double s = 0.7;
  const auto out = d.forward(x, torch::tensor(s, torch::kFloat64));
  for (int64_t n = 0; n < 5; ++n) {
    const auto xn = x[n].reshape({-1});
    double log_p[3], total = 0, norm = -INFINITY;
    for (int k = 0; k < 3; ++k) {
      const double v = vars[k].item<double>() + s * s;
      const double d2 = (xn - means[k]).square().sum().item<double>();
      log_p[k] = std::log(weights[k].item<double>()) - 0.5 * dim * std::log(2 * M_PI * v) - d2 / (2 * v);
      norm = std::max(norm, log_p[k]);
    }
    auto want = torch::zeros({dim}, torch::kFloat64);
    for (int k = 0; k < 3; ++k) total += std::exp(log_p[k] - norm);
    for (int k = 0; k < 3; ++k) {
      const double r = std::exp(log_p[k] - norm) / total;
      const double g = vars[k].item<double>() / (vars[k].item<double>() + s * s);
      want += r * (means[k] + g * (xn - means[k]));
    }
    EXPECT_LT((out[n].reshape({-1}) - want).abs().max().item<double>(), 1e-12);
  }
}

TEST(NetsAnalytic, SingleComponentMixtureEqualsGaussian) {
  GaussianMixtureDenoiser m(4, 3, torch::tensor({0.1}, torch::kFloat64), torch::tensor({0.09}, torch::kFloat64),
                            torch::tensor({1.0}, torch::kFloat64));
  GaussianDenoiser g(4, 3, torch::tensor(0.1, torch::kFloat64), 0.3);
  const auto x = torch::randn({2, 3, 4, 4}, torch::kFloat32);
  const auto sigma = torch::tensor({0.2f, 3.0f});
  const auto a = m.forward(x, sigma), b = g.forward(x, sigma);
  EXPECT_EQ(a.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));
}

TEST(NetsAnalytic, FactoryBuildsFromConfig) {
  auto net = Config::from_string("arch = \"gmm\"\nimg_resolution = 4\nin_channels = 1\nmeans = [-1.0, 1.0]\n"
                                 "variances = [0.0, 0.0]\nweights = [1.0, 1.0]\n");
  auto d = make_network(net);
  EXPECT_EQ(d->parameter_count(), 0);
  // Far from 0 and a tiny level: the posterior mean snaps to the nearest mean.
  const auto x = torch::full({1, 1, 4, 4}, 0.8, torch::kFloat64);
  EXPECT_NEAR(d->forward(x, torch::tensor(0.1, torch::kFloat64)).mean().item<double>(), 1.0, 1e-9);
  auto clone = clone_network(*d);
  EXPECT_TRUE(torch::equal(clone->forward(x, torch::tensor(0.5)), d->forward(x, torch::tensor(0.5))));
}

}  // namespace
}  // namespace cmbench
