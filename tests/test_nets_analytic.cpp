// Analytic denoisers against closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/gaussian_mixture.h"
#include "core/rng.h"
#include "nets/analytic.h"
#include "nets/checkpoint_io.h"
#include "nets/factory.h"
#include "test_util.h"

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


// A 3x4x4 mixture of two rank-1 components, saved as `truth fit` saves one.
std::string write_mixture_file(const test::TempDir& dir) {
  const int64_t d = 48;
  GaussianMixtureParts p;
  p.shape = {3, 4, 4};
  p.weights = torch::tensor({0.3, 0.7}, torch::kFloat64);
  p.means = torch::stack({torch::full({d}, -0.4, torch::kFloat64), torch::linspace(-0.2, 0.6, d, torch::kFloat64)});
  p.noise_variances = torch::tensor({0.01, 0.02}, torch::kFloat64);
  p.factors = torch::stack({torch::ones({d}, torch::kFloat64), torch::arange(d, torch::kFloat64).remainder(2) * 2 - 1})
                  .unsqueeze(2) /
              std::sqrt(static_cast<double>(d));
  p.factor_variances = torch::tensor({{0.05}, {0.1}}, torch::kFloat64);
  const auto path = dir.file("mixture.npz");
  GaussianMixture(std::move(p)).save(path);
  return path;
}

nlohmann::json file_net(const std::string& path, int64_t resolution = 4) {
  return {{"arch", "gmm"}, {"img_resolution", resolution}, {"in_channels", 3}, {"mixture", path}};
}

// net.mixture: the network is core's exact denoiser of the file's mixture, recorded with its fingerprint.
TEST(NetsAnalytic, MixtureFileNetworkIsTheExactDenoiser) {
  test::TempDir dir;
  const auto path = write_mixture_file(dir);
  const auto mixture = GaussianMixture::load(path);
  auto net = make_network(file_net(path));
  EXPECT_EQ(net->parameter_count(), 0);
  EXPECT_EQ(net->config().at("mixture"), path);
  EXPECT_EQ(net->config().at("mixture_sha256"), mixture.fingerprint());
  const auto x = torch::randn({4, 3, 4, 4}, make_generator(0, "test"), torch::kFloat64);
  const auto sigma = torch::tensor({0.0, 0.05, 1.0, 20.0}, torch::kFloat64);
  const auto out = net->forward(x, sigma);
  EXPECT_TRUE(torch::equal(out[0], x[0]));
  EXPECT_TRUE(torch::equal(out.narrow(0, 1, 3), mixture.denoise(x.narrow(0, 1, 3), sigma.narrow(0, 1, 3))));
  const auto as_float = net->forward(x.to(torch::kFloat32), sigma.to(torch::kFloat32));
  EXPECT_EQ(as_float.scalar_type(), torch::kFloat32);
  auto clone = clone_network(*net);
  EXPECT_TRUE(torch::equal(clone->forward(x, sigma), out));
  const auto& gmm = dynamic_cast<const GaussianMixtureDenoiser&>(*net);
  EXPECT_TRUE(torch::equal(gmm.responsibilities(x, sigma.narrow(0, 1, 1)), mixture.responsibilities(x, sigma.narrow(0, 1, 1))));
}

TEST(NetsAnalytic, MixtureFileFromATomlNetTable) {
  test::TempDir dir;
  const auto path = write_mixture_file(dir);
  auto net = make_network(Config::from_string("arch = \"gmm\"\nimg_resolution = 4\nin_channels = 3\nmixture = \"" + path +
                                              "\"\n"));
  const auto x = torch::randn({2, 3, 4, 4}, make_generator(1, "test"), torch::kFloat64);
  EXPECT_TRUE(torch::equal(net->forward(x, torch::tensor(0.5, torch::kFloat64)),
                           GaussianMixture::load(path).denoise(x, torch::tensor(0.5, torch::kFloat64))));
}

// A checkpoint of the exact network (no tensors) rebuilds it from the file, and refuses a file whose
// parameters changed since.
TEST(NetsAnalytic, MixtureFileNetworkRoundTripsThroughACheckpoint) {
  test::TempDir dir;
  const auto path = write_mixture_file(dir);
  auto net = make_network(file_net(path));
  Checkpoint c;
  c.config = network_config(*net);
  c.groups["model"] = {};
  const auto ckpt = dir.file("exact.h5");
  write_checkpoint(ckpt, c);
  auto loaded = load_network(ckpt, "model");
  const auto x = torch::randn({2, 3, 4, 4}, make_generator(2, "test"), torch::kFloat64);
  EXPECT_TRUE(torch::equal(loaded->forward(x, torch::tensor(0.3)), net->forward(x, torch::tensor(0.3))));
  auto changed = GaussianMixture::load(path).parts();
  changed.noise_variances = changed.noise_variances * 2;
  GaussianMixture(changed).save(path);
  const auto message = test::input_error_message([&] { load_network(ckpt, "model"); });
  EXPECT_NE(message.find("net.mixture '" + path + "': its parameters (sha256 "), std::string::npos) << message;
}

TEST(NetsAnalytic, MixtureFileMustMatchTheNetShape) {
  test::TempDir dir;
  const auto path = write_mixture_file(dir);
  const auto message = test::input_error_message([&] { make_network(file_net(path, 8)); });
  EXPECT_NE(message.find("net.mixture '" + path + "': a 3x4x4 mixture, but the net has in_channels 3 and img_resolution 8"),
            std::string::npos)
      << message;
  EXPECT_THROW(make_network(file_net(dir.file("missing.npz"))), InputError);
}

}  // namespace
}  // namespace cmbench
