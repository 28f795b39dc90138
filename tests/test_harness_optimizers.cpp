// RAdam and Adam against PyTorch 1.13 (vectors/optimizers.npz), their state round trip, and the
// learning-rate schedules against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/npy.h"
#include "core/error.h"
#include "harness/lr_schedule.h"
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

// The schedule of a `train` table holding only the schedule's keys (the reader then finds none left).
LrSchedule parse_lr_schedule(const Config& train) {
  ConfigReader reader(train, "train");
  auto schedule = read_lr_schedule(reader);
  reader.finish();
  return schedule;
}

TEST(LrSchedules, MatchHandComputedValues) {
  const auto constant = parse_lr_schedule(Config::from_string("lr = 2e-4\n"));
  EXPECT_EQ(constant.lr(0, 0), 2e-4);
  EXPECT_EQ(constant.lr(123456, 999999), 2e-4);

  // EDM: images before the step over warmup_images, so the first step trains at lr 0.
  const auto warmup = parse_lr_schedule(Config::from_string("lr = 1e-3\nlr_schedule = \"warmup\"\nwarmup_images = 1000\n"));
  EXPECT_EQ(warmup.lr(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(warmup.lr(2, 250), 2.5e-4);
  EXPECT_DOUBLE_EQ(warmup.lr(8, 1000), 1e-3);
  EXPECT_DOUBLE_EQ(warmup.lr(80, 10000), 1e-3);

  // ECT ImageNet-64: 7e-4 / sqrt(max(step / 2000, 1)).
  const auto ect = parse_lr_schedule(Config::from_string("lr = 7e-4\nlr_schedule = \"inverse_sqrt\"\n"));
  EXPECT_DOUBLE_EQ(ect.lr(0, 0), 7e-4);
  EXPECT_DOUBLE_EQ(ect.lr(2000, 0), 7e-4);
  EXPECT_DOUBLE_EQ(ect.lr(8000, 0), 3.5e-4);
  EXPECT_DOUBLE_EQ(ect.lr(18000, 0), 7e-4 / 3.0);

  // EDM2 img64-xl: ref_lr 0.007, ref_batches 35000, rampup 10 Mimg at batch 2048.
  const auto edm2 = parse_lr_schedule(Config::from_string(
      "lr = 0.007\nlr_schedule = \"inverse_sqrt\"\nlr_ref_steps = 35000\nrampup_images = 10e6\n"));
  EXPECT_EQ(edm2.lr(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(edm2.lr(1000, 2048000), 0.007 * 0.2048);
  EXPECT_DOUBLE_EQ(edm2.lr(35000, 35000 * 2048), 0.007);
  EXPECT_DOUBLE_EQ(edm2.lr(140000, 140000LL * 2048), 0.0035);
}

TEST(LrSchedules, BadValuesNameTheKey) {
  try {
    parse_lr_schedule(Config::from_string("lr_schedule = \"cosine\"\n", "t.toml"));
    FAIL() << "accepted an unknown schedule";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("t.toml:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'cosine'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_lr_schedule(Config::from_string("rampup_images = -1\n")), InputError);
  EXPECT_THROW(parse_lr_schedule(Config::from_string("lr_ref_steps = 0\n")), InputError);
}

TEST(Gradients, NanToNumThenClipToTheMaximumNorm) {
  auto a = torch::tensor({3.0f, 0.0f}).requires_grad_();
  auto b = torch::tensor({4.0f}).requires_grad_();
  auto untouched = torch::tensor({1.0f}).requires_grad_();  // no gradient: skipped
  (a * torch::tensor({1.0f, 0.0f})).sum().backward();
  a.mutable_grad().index_put_({0}, 3.0f);
  a.mutable_grad().index_put_({1}, std::nanf(""));
  (b * 4.0f).sum().backward();
  std::vector<torch::Tensor> params = {a, b, untouched};

  // Below the maximum: NaN becomes 0, nothing is scaled, the norm is sqrt(3^2 + 4^2).
  EXPECT_DOUBLE_EQ(sanitize_and_clip_gradients(params, 10.0), 5.0);
  EXPECT_EQ(a.grad()[1].item<float>(), 0.0f);
  EXPECT_EQ(b.grad()[0].item<float>(), 4.0f);
  EXPECT_FALSE(untouched.grad().defined());

  // Above it: scaled by max / (norm + 1e-6), so the new norm is max to 1e-6 relative.
  EXPECT_DOUBLE_EQ(sanitize_and_clip_gradients(params, 1.0), 5.0);
  EXPECT_FLOAT_EQ(a.grad()[0].item<float>(), static_cast<float>(3.0 / (5.0 + 1e-6)));
  EXPECT_FLOAT_EQ(b.grad()[0].item<float>(), static_cast<float>(4.0 / (5.0 + 1e-6)));
  EXPECT_NEAR(sanitize_and_clip_gradients(params, 0.0), 1.0, 1e-6);

  // Infinities become +-1e5 before the norm.
  b.mutable_grad().fill_(-std::numeric_limits<float>::infinity());
  a.mutable_grad().zero_();
  EXPECT_DOUBLE_EQ(sanitize_and_clip_gradients(params, 0.0), 1e5);
  EXPECT_EQ(b.grad()[0].item<float>(), -1e5f);
}

}  // namespace
}  // namespace cmbench
