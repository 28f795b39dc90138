// RAdam and Adam against PyTorch 1.13 (vectors/optimizers.npz), and their state round trip.
#include <gtest/gtest.h>

#include "core/npy.h"
#include "harness/optimizers.h"
#include "harness/selftest_optimizers.h"
#include "test_util.h"

namespace cmbench {
namespace {

TEST(Optimizers, MatchPyTorchVectors) {
  const auto report = run_optimizer_selftest(test::vector_path("optimizers.npz"));
  ASSERT_EQ(report.checks.size(), 2u);
  for (const auto& c : report.checks) EXPECT_LE(c.error, 1e-12) << c.key;
}

TEST(Optimizers, RAdamRectifiesAfterWarmUpSteps) {
  // With beta2 = 0.9, rho_inf = 19 and rho_t exceeds 5 from step 6: steps 1-5 are momentum SGD.
  auto p = torch::zeros({1}, torch::kFloat64).set_requires_grad(true);
  RAdam radam({p}, AdamOptions().lr(0.1).beta1(0.5).beta2(0.9).eps(0));
  double expected = 0;
  for (int step = 1; step <= 5; ++step) {
    p.mutable_grad() = torch::ones({1}, torch::kFloat64);
    radam.step();
    expected -= 0.1;  // bias-corrected first moment of a constant gradient is 1
    EXPECT_NEAR(p.item<double>(), expected, 1e-15) << step;
  }
  p.mutable_grad() = torch::ones({1}, torch::kFloat64);
  radam.step();
  EXPECT_NE(p.item<double>(), expected - 0.1);
}

TEST(Optimizers, StateRoundTripContinuesIdentically) {
  auto run = [](bool reload) {
    auto p = torch::tensor({1.0, -2.0, 3.0}, torch::kFloat64).set_requires_grad(true);
    auto opt = make_optimizer("radam", {p}, AdamOptions().lr(0.01));
    for (int i = 0; i < 10; ++i) {
      if (reload && i == 6) {
        auto state = opt->state();
        for (auto& [k, v] : state) v = v.clone();
        auto q = p.detach().clone().set_requires_grad(true);
        auto fresh = make_optimizer("radam", {q}, AdamOptions().lr(0.01));
        fresh->load_state(state);
        p = q;
        opt = std::move(fresh);
      }
      p.mutable_grad() = torch::sin(p.detach() * (i + 1));
      opt->step();
    }
    return p.detach();
  };
  EXPECT_TRUE(torch::equal(run(false), run(true)));
  auto p = torch::zeros({2});
  EXPECT_THROW(make_optimizer("sgd", {p}, AdamOptions()), std::exception);
}

}  // namespace
}  // namespace cmbench
