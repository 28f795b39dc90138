// Preconditioning coefficients against METHODS.md §1, the sigma == 0 special case, and the CM boundary.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "nets/precond.h"

namespace cmbench {
namespace {

const std::vector<double> kSigmas{0.002, 0.01, 0.1, 0.5, 1.0, 5.0, 80.0};

TEST(NetsPrecond, EdmCoefficientsMatchFormulas) {
  const double sd = 0.5;
  const auto s = torch::tensor(kSigmas, torch::kFloat64);
  const auto c = precond_coefficients({PrecondForm::edm, 0}, sd, 0.25, s);
  for (size_t i = 0; i < kSigmas.size(); ++i) {
    const double x = kSigmas[i];
    EXPECT_NEAR(c.c_skip[i].item<double>(), sd * sd / (x * x + sd * sd), 1e-15);
    EXPECT_NEAR(c.c_out[i].item<double>(), x * sd / std::sqrt(x * x + sd * sd), 1e-15);
    EXPECT_NEAR(c.c_in[i].item<double>(), 1 / std::sqrt(x * x + sd * sd), 1e-15);
    EXPECT_NEAR(c.c_noise[i].item<double>(), std::log(x) / 4, 1e-15);
  }
}

TEST(NetsPrecond, CmCoefficientsShiftOnlyTheNumerator) {
  const double sd = 0.5, eps = 0.002;
  const auto s = torch::tensor(kSigmas, torch::kFloat64);
  const auto c = precond_coefficients({PrecondForm::cm, eps}, sd, 0.25, s);
  for (size_t i = 0; i < kSigmas.size(); ++i) {
    const double x = kSigmas[i];
    EXPECT_NEAR(c.c_skip[i].item<double>(), sd * sd / ((x - eps) * (x - eps) + sd * sd), 1e-15);
    EXPECT_NEAR(c.c_out[i].item<double>(), (x - eps) * sd / std::sqrt(x * x + sd * sd), 1e-15);
    EXPECT_NEAR(c.c_in[i].item<double>(), 1 / std::sqrt(x * x + sd * sd), 1e-15);
  }
}

TEST(NetsPrecond, AdmTimeInputScale) {
  const auto c = precond_coefficients({}, 0.5, 250, torch::tensor({2.0}, torch::kFloat64));
  EXPECT_NEAR(c.c_noise[0].item<double>(), 250 * std::log(2.0), 1e-12);
}

// A network that would poison the output with NaN wherever it is evaluated at ln(0).
torch::Tensor nan_at_minus_infinity(const torch::Tensor& x, const torch::Tensor& c_noise) {
  return torch::tanh(x) + c_noise.reshape({-1, 1, 1, 1}) * 0 + torch::where(torch::isinf(c_noise), torch::full_like(c_noise, NAN), torch::zeros_like(c_noise)).reshape({-1, 1, 1, 1});
}

TEST(NetsPrecond, EdmReturnsXAtSigmaZeroWithoutNaN) {
  const auto x = torch::randn({3, 2, 4, 4}, torch::kFloat64);
  const auto sigma = torch::tensor({0.0, 0.5, 0.0}, torch::kFloat64);
  int calls = 0;
  RawNetwork net = [&](const torch::Tensor& u, const torch::Tensor& c) {
    ++calls;
    return nan_at_minus_infinity(u, c);
  };
  const auto d = precondition({PrecondForm::edm, 0}, 0.5, 0.25, net, x, sigma);
  EXPECT_FALSE(torch::isnan(d).any().item<bool>());
  EXPECT_TRUE(torch::equal(d[0], x[0]));
  EXPECT_TRUE(torch::equal(d[2], x[2]));
  EXPECT_FALSE(torch::allclose(d[1], x[1]));
  EXPECT_EQ(calls, 1);  // one batched pass, no per-row host decisions
}

TEST(NetsPrecond, CmIsIdentityAtTheBoundary) {
  const auto x = torch::randn({2, 3, 4, 4}, torch::kFloat64);
  const double eps = 0.002;
  RawNetwork net = [](const torch::Tensor& u, const torch::Tensor&) { return torch::sin(u) * 3 + 1; };
  const auto d = precondition({PrecondForm::cm, eps}, 0.5, 0.25, net, x, torch::full({2}, eps, torch::kFloat64));
  EXPECT_LT((d - x).abs().max().item<double>(), 1e-15);
  // The EDM form at the same level is not the identity.
  const auto e = precondition({PrecondForm::edm, 0}, 0.5, 0.25, net, x, torch::full({2}, eps, torch::kFloat64));
  EXPECT_GT((e - x).abs().max().item<double>(), 1e-4);
}

TEST(NetsPrecond, ConfigParsingAndJsonRoundTrip) {
  auto table = Config::from_string(
      "train = {form = \"edm\"}\neval = {form = \"cm\", eps_b = 0.003}\nsigma_data = 0.5\n", "precond.toml");
  const auto p = parse_precond_config(table);
  EXPECT_EQ(p.train.form, PrecondForm::edm);
  EXPECT_EQ(p.eval.form, PrecondForm::cm);
  EXPECT_DOUBLE_EQ(p.eval.eps_b, 0.003);
  const auto j = precond_to_json(p);
  EXPECT_EQ(j.at("eval").at("form").get<std::string>(), "cm");
  const auto back = precond_from_json(j);
  EXPECT_EQ(back.eval.form, PrecondForm::cm);
  EXPECT_DOUBLE_EQ(back.eval.eps_b, 0.003);
  EXPECT_DOUBLE_EQ(back.sigma_data, 0.5);
  EXPECT_THROW(parse_precond_config(Config::from_string("train = {form = \"vp\"}\n")), InputError);
  EXPECT_THROW(parse_precond_config(Config::from_string("wrong = 1\n")), InputError);
}

}  // namespace
}  // namespace cmbench
