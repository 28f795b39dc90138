// Schedules of METHODS.md §2, §4-§6 against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "core/npy.h"
#include "core/npy_torch.h"
#include "methods/schedules.h"
#include "test_util.h"

namespace cmbench {
namespace {

TEST(Schedules, KarrasGridMatchesVectorAndEndpoints) {
  const auto grid = karras_sigmas(18);
  const auto want = to_tensor(read_npz(test::vector_path("losses.npz"), {"karras_18"}).at("karras_18"));
  EXPECT_LE((grid - want).abs().max().item<double>(), 1e-12 * 80);
  EXPECT_DOUBLE_EQ(grid[0].item<double>(), 80.0);
  EXPECT_NEAR(grid[17].item<double>(), 0.002, 1e-15);
  // Middle point of a 3-point grid: ((80^(1/7) + 0.002^(1/7)) / 2)^7.
  EXPECT_NEAR(karras_sigmas(3)[1].item<double>(), std::pow((std::pow(80.0, 1 / 7.0) + std::pow(0.002, 1 / 7.0)) / 2, 7),
              1e-12);
}

TEST(Schedules, EctRPerStage) {
  const auto t = torch::tensor({0.5, 1.0, 40.0}, torch::kFloat64);
  // stage 0, q 2: n(0.5) = 1 + 8 sigmoid(-0.5) = 4.0203 > 2, so r = 0.
  auto r = ect_r(t, 0, 2);
  EXPECT_EQ(r[0].item<double>(), 0.0);
  EXPECT_EQ(r[1].item<double>(), 0.0);  // n(1) = 3.1515 > 2
  EXPECT_NEAR(r[2].item<double>(), 20.0, 1e-12);
  // stage 1, q 2 (divisor 4): r(1) = 1 - (1 + 8 * 0.2689414213699951) / 4.
  r = ect_r(t, 1, 2);
  EXPECT_NEAR(r[1].item<double>(), 1 - (1 + 8 * 0.2689414213699951) / 4, 1e-15);
  EXPECT_NEAR(r[2].item<double>(), 30.0, 1e-12);
  // stage 3, q 2 (divisor 16): r(0.5) = 0.5 (1 - 4.020325350385163 / 16).
  EXPECT_NEAR(ect_r(t, 3, 2)[0].item<double>(), 0.5 * (1 - 4.020325350385163 / 16), 1e-14);
  // q 4, stage 1 (divisor 16) equals q 2 stage 3.
  EXPECT_TRUE(torch::allclose(ect_r(t, 1, 4), ect_r(t, 3, 2), 0, 1e-15));
  // Stage index: floor(step / 25000), continuous when smooth.
  EXPECT_EQ(ect_stage(74999, 25000), 2.0);
  EXPECT_EQ(ect_stage(75000, 25000), 3.0);
  EXPECT_DOUBLE_EQ(ect_stage(37500, 25000, true), 1.5);
}

TEST(Schedules, IctCurriculum) {
  // K = 400k, s0 10, s1 1280: K' = floor(400000 / 8) = 50000.
  EXPECT_EQ(ict_grid_points(0, 400000), 11);
  EXPECT_EQ(ict_grid_points(49999, 400000), 11);
  EXPECT_EQ(ict_grid_points(50000, 400000), 21);
  EXPECT_EQ(ict_grid_points(100000, 400000), 41);
  EXPECT_EQ(ict_grid_points(349999, 400000), 641);
  EXPECT_EQ(ict_grid_points(350000, 400000), 1281);
  EXPECT_EQ(ict_grid_points(399999, 400000), 1281);
  // s1/s0 = 100: K' = floor(K / (log2(100) + 1)) = floor(1000 / 7.6439) = 130.
  EXPECT_EQ(ict_grid_points(129, 1000, 10, 1000), 11);
  EXPECT_EQ(ict_grid_points(130, 1000, 10, 1000), 21);
}

TEST(Schedules, IctDiscretizedLognormal) {
  const auto grid = torch::tensor({0.1, 1.0, 10.0}, torch::kFloat64);
  const auto p = discretized_lognormal(grid, -1.1, 2.0);
  auto cdf = [](double s) { return std::erf((std::log(s) + 1.1) / (std::sqrt(2.0) * 2.0)); };
  const double a = cdf(1.0) - cdf(0.1), b = cdf(10.0) - cdf(1.0);
  EXPECT_NEAR(p[0].item<double>(), a / (a + b), 1e-15);
  EXPECT_NEAR(p[1].item<double>(), b / (a + b), 1e-15);
}

TEST(Schedules, CmAdaptive) {
  // k = 0: M = ceil(sqrt(4) - 1) = 1, N = 2, mu = exp(2 ln 0.9 / 1) = 0.81.
  EXPECT_EQ(cm_grid_points(0, 800000), 2);
  EXPECT_NEAR(cm_target_rate(0, 800000), 0.81, 1e-15);
  // k = K/2: sqrt(0.5 (151^2 - 4) + 4) - 1 = 105.78..., M = 106.
  EXPECT_EQ(cm_grid_points(400000, 800000), 107);
  EXPECT_NEAR(cm_target_rate(400000, 800000), std::pow(0.9, 2.0 / 106), 1e-15);
  // k = K: M = 150, N = 151.
  EXPECT_EQ(cm_grid_points(800000, 800000), 151);
  EXPECT_NEAR(cm_target_rate(800000, 800000), std::pow(0.9, 2.0 / 150), 1e-15);
}

}  // namespace
}  // namespace cmbench
