// EMA rules (core/ema.h): fixed, EDM half-life with ramp-up, EDM2 power function.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ema.h"

namespace cmbench {
namespace {

TEST(Ema, HalflifeRampUp) {
  const auto o = EmaOptions().kind(EmaKind::halflife).halflife_images(500000).rampup_ratio(0.05);
  EXPECT_EQ(ema_beta(o, 0, 512), 0.0);  // first step: the EMA takes the weights
  EXPECT_DOUBLE_EQ(ema_beta(o, 1000000, 512), std::pow(0.5, 512 / 50000.0));
  EXPECT_DOUBLE_EQ(ema_beta(o, 20000000, 512), std::pow(0.5, 512 / 500000.0));
  EXPECT_DOUBLE_EQ(ema_beta(EmaOptions(o).rampup_ratio(0), 0, 512), std::pow(0.5, 512 / 500000.0));
}

TEST(Ema, PowerFunctionExponent) {
  // gamma = 7: sigma_rel = sqrt(8 / (81 * 10)).
  EXPECT_NEAR(power_ema_gamma(std::sqrt(8.0 / 810.0)), 7.0, 1e-10);
  for (double s : {0.01, 0.05, 0.1, 0.2}) {
    const double g = power_ema_gamma(s);
    const double t = 1 / (s * s);
    EXPECT_NEAR(g * g * g + 7 * g * g + (16 - t) * g + (12 - t), 0.0, 1e-7 * t * g);
    EXPECT_NEAR(power_ema_sigma_rel(g), s, 1e-12);
  }
  EXPECT_THROW(power_ema_gamma(0.5), std::exception);
  // beta = (1 - batch / images_after)^(gamma + 1), images counted after the step.
  const auto o = EmaOptions().kind(EmaKind::power).sigma_rel(std::sqrt(8.0 / 810.0));
  EXPECT_NEAR(ema_beta(o, 128 * 9, 128), std::pow(0.9, 8.0), 1e-12);
  EXPECT_EQ(ema_beta(o, 0, 128), 0.0);
}

TEST(Ema, UpdateAveragesAndCopiesIntegers) {
  auto w = torch::tensor({1.0, 2.0}, torch::kFloat64);
  auto counter = torch::tensor({3}, torch::kInt64);
  Ema ema("ema", EmaOptions().kind(EmaKind::fixed).beta(0.75), {{"w", w}, {"n", counter}});
  w.fill_(5.0);
  counter.fill_(4);
  EXPECT_EQ(ema.update({{"w", w}, {"n", counter}}, 0, 1), 0.75);
  EXPECT_DOUBLE_EQ(ema.tensors()[0].second[0].item<double>(), 0.75 * 1 + 0.25 * 5);
  EXPECT_DOUBLE_EQ(ema.tensors()[0].second[1].item<double>(), 0.75 * 2 + 0.25 * 5);
  EXPECT_EQ(ema.tensors()[1].second.item<int64_t>(), 4);
}

}  // namespace
}  // namespace cmbench
