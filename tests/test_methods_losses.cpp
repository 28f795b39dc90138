// Every loss against vectors/losses.npz (through the real methods), student/target dropout-mask
// replay, and SCT's variance-reduced target against closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/npy.h"
#include "core/rng.h"
#include "methods/consistency.h"
#include "methods/registry.h"
#include "methods/selftest_losses.h"
#include "nets/factory.h"
#include "nets/mlp.h"
#include "test_util.h"

namespace cmbench {
namespace {

Config method_table(const std::string& text) { return Config::from_string(text, "<test>"); }

TEST(Losses, EveryCaseMatchesVectors) {
  const auto report = run_loss_selftest(test::vector_path("losses.npz"));
  EXPECT_GE(report.checks.size(), 30u);
  for (const auto& c : report.checks) EXPECT_LE(c.error, 1e-9) << c.key;
}

TEST(Losses, CliPassesAndFailsOnTamperedVectors) {
  auto ok = test::run_cli({"selftest", "losses", test::vector_path("losses.npz")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ect_q2_stage0_loss"), std::string::npos);

  test::TempDir dir;
  auto arrays = read_npz(test::vector_path("losses.npz"));
  arrays.at("ect_q2_stage3_loss").data<double>()[0] *= 1 + 1e-6;
  write_npz(dir.file("losses.npz"), arrays);
  std::filesystem::copy_file(test::vector_path("losses.json"), dir.file("losses.json"));
  auto bad = test::run_cli({"selftest", "losses", dir.file("losses.npz")});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.out.find("ect_q2_stage3_loss"), std::string::npos);

  auto missing = test::run_cli({"selftest", "optimizers", dir.file("none.npz")});
  EXPECT_EQ(missing.exit_code, 2);
  auto optimizers = test::run_cli({"selftest", "optimizers", test::vector_path("optimizers.npz")});
  EXPECT_EQ(optimizers.exit_code, 0) << optimizers.err;
}

// Dropout 0.5 and r forced equal to t (q so large that n(t)/q^(stage+1) vanishes): the student and
// the replayed target see the same masks, so Delta is exactly 0.
TEST(Losses, StudentAndTargetShareDropoutMasks) {
  torch::manual_seed(3);
  PrecondConfig precond;
  auto net = std::make_shared<MlpDenoiser>(MlpOptions().img_channels(3).img_resolution(4).hidden(32).dropout(0.5), precond);
  net->train();
  auto method = make_method(method_table("name = \"ect\"\nq = 1e300\n"));
  TrainingBatch batch{torch::rand({6, 3, 4, 4}) * 2 - 1, {}, {}, {}, {}, {}};
  StepContext ctx;
  ctx.generator = make_generator(1, "test");
  const auto result = method->step_loss(batch, ctx, Networks{net, nullptr, nullptr});
  ASSERT_TRUE(torch::equal(result.outputs.at("r"), result.outputs.at("t")));
  EXPECT_TRUE(torch::equal(result.outputs.at("student").detach(), result.outputs.at("target")));
  EXPECT_EQ(result.outputs.at("delta").abs().max().item<float>(), 0.0f);

  // Without the replay the masks differ: the same two passes give different outputs.
  const auto x = torch::randn({6, 3, 4, 4});
  const auto s = torch::full({6}, 0.7);
  const auto a = net->forward(x, s).detach();
  const auto b = net->forward(x, s).detach();
  EXPECT_FALSE(torch::equal(a, b));
  const auto pair = paired_passes(*net, *net, x, s, x, s, {});
  EXPECT_TRUE(torch::equal(pair.student.detach(), pair.target));
}

// EDM2's loss (weighting = "uncertainty"): lambda / exp(u) ||D - x0||^2 + numel u per sample, with u
// the network's learned log-variance; its gradient reaches logvar_linear. Networks without the head
// are refused with a clear message.
TEST(Losses, EdmUncertaintyWeightingIsEdm2Loss) {
  auto net = make_preset_network("imagenet64-edm2-tiny", 4);
  net->train();
  const auto labels = torch::nn::functional::one_hot(torch::arange(4) % 10, 10).to(torch::kFloat32);
  TrainingBatch batch{torch::rand({4, 3, 32, 32}) * 2 - 1, labels, {}, {}, {}, {}};
  StepContext ctx;
  ctx.generator = make_generator(2, "test");
  auto method = make_method(method_table("name = \"edm\"\nweighting = \"uncertainty\"\np_mean = -0.8\np_std = 1.6\n"));
  const auto result = method->step_loss(batch, ctx, Networks{net, nullptr, nullptr});

  // Backward first: in train mode every EDM2 forward renormalizes the weights in place (forced
  // weight normalization), so the check's own pass must come after it.
  result.per_sample.mean().backward();
  for (const auto& [name, tensor] : net->state()) {
    if (name == "logvar_linear.weight") {
      ASSERT_TRUE(tensor.grad().defined());
      EXPECT_GT(tensor.grad().abs().sum().item<double>(), 0.0);
    }
  }
  torch::NoGradGuard no_grad;
  const auto sigma = result.outputs.at("sigma");
  const auto u = net->uncertainty(sigma).flatten();
  const double sd = net->precond().sigma_data;
  const auto weight = (sigma.square() + sd * sd) / (sigma * sd).square();
  const auto diff = (result.outputs.at("denoised").detach() - batch.images).square().sum({1, 2, 3});
  const auto want = weight / u.exp() * diff + 3.0 * 32 * 32 * u;
  EXPECT_TRUE(torch::allclose(result.per_sample.detach(), want, 1e-5, 1e-4)) << result.per_sample << want;
  EXPECT_TRUE(torch::allclose(result.outputs.at("logvar").detach(), u, 1e-5, 1e-6));

  PrecondConfig precond;
  auto mlp = std::make_shared<MlpDenoiser>(MlpOptions().img_channels(3).img_resolution(4).hidden(8), precond);
  TrainingBatch small{torch::zeros({2, 3, 4, 4}), {}, {}, {}, {}, {}};
  try {
    method->step_loss(small, ctx, Networks{mlp, nullptr, nullptr});
    FAIL() << "a network without an uncertainty head was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("uncertainty head"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cmbench
