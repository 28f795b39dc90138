// CD and CT with `distance = "lpips"` (methods/consistency.h CmDistance): the loss is LPIPS of the
// student against the target, gradients reach the student and not the LPIPS weights, the options
// and their refusals, and `cmbench train` of a CD run with synthetic LPIPS weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <optional>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/torch_compat.h"
#include "methods/consistency.h"
#include "methods/registry.h"
#include "nets/lpips.h"
#include "nets/mlp.h"
#include "test_util.h"

namespace cmbench {
namespace {

std::unique_ptr<Method> method_from(const std::string& text) {
  return make_method(Config::from_string("[method]\n" + text, "<test>").sub("method"));
}

// Sets or unsets an environment variable for the life of the object.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnvironment() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::shared_ptr<MlpDenoiser> rgb_mlp(int64_t resolution) {
  torch::manual_seed(5);
  auto net = std::make_shared<MlpDenoiser>(
      MlpOptions().img_channels(3).img_resolution(resolution).hidden(16), PrecondConfig{});
  net->train();
  return net;
}

// One loss of `method` on 16x16 RGB images; the per-sample values equal LPIPS (same weights and
// protocol, loaded directly) of the student against the target, and the gradient reaches the student.
void expect_lpips_loss(const std::string& options, LpipsProtocol protocol, int64_t batch_size, bool backward) {
  auto method = method_from(options);
  auto student = rgb_mlp(16);
  auto teacher = rgb_mlp(16);
  auto generator = compat::make_cpu_generator(11);
  TrainingBatch batch{torch::rand({batch_size, 3, 16, 16}, generator) * 2 - 1, {}, {}, {}, {}, {}};
  StepContext ctx;
  ctx.generator = make_generator(4, "lpips-test");
  const auto result = method->step_loss(batch, ctx, Networks{student, nullptr, method->needs_teacher() ? teacher : nullptr});
  ASSERT_EQ(result.per_sample.sizes(), (std::vector<int64_t>{batch_size}));
  ASSERT_TRUE(result.per_sample.requires_grad());

  auto direct = load_lpips("synthetic:0", LpipsOptions().protocol(protocol), "test");
  {
    torch::NoGradGuard no_grad;
    const auto want = direct->forward(result.outputs.at("student").detach(), result.outputs.at("target"));
    EXPECT_TRUE(torch::allclose(result.per_sample.detach(), want, 1e-6, 1e-9)) << result.per_sample << want;
    EXPECT_TRUE((want > 0).all().item<bool>());
  }
  if (!backward) return;
  result.per_sample.mean().backward();
  double gradient = 0;
  for (const auto& p : student->parameters()) {
    if (p.grad().defined()) gradient += p.grad().abs().sum().item<double>();
  }
  EXPECT_GT(gradient, 0) << options;
}

TEST(LpipsDistance, CtLossIsLpipsOfStudentAndTarget) {
  expect_lpips_loss("name = \"ct\"\ndistance = \"lpips\"\nlpips_weights = \"synthetic:0\"\nlpips_protocol = \"lpips\"\n",
                    LpipsProtocol::lpips, 3, true);
}

TEST(LpipsDistance, CdLossIsLpipsOfStudentAndTarget) {
  expect_lpips_loss("name = \"cd\"\ndistance = \"lpips\"\nlpips_weights = \"synthetic:0\"\nlpips_protocol = \"lpips\"\n",
                    LpipsProtocol::lpips, 3, true);
}

// openai's protocol is the default: the 16x16 images go to VGG at 224x224 (one image keeps it short).
TEST(LpipsDistance, DefaultProtocolIsOpenaiConsistencyModels) {
  const std::string options = "name = \"cd\"\ndistance = \"lpips\"\nlpips_weights = \"synthetic:0\"\n";
  EXPECT_EQ(method_from(options)->resolved().at("lpips_protocol"), "openai-cm");
  expect_lpips_loss(options, LpipsProtocol::openai_cm, 1, false);
}

TEST(LpipsDistance, WeightsComeFromTheOptionOrCmbenchLpips) {
  {
    ScopedEnvironment environment("CMBENCH_LPIPS", "synthetic:4");
    auto method = method_from("name = \"ct\"\ndistance = \"lpips\"\n");
    EXPECT_EQ(method->resolved().at("lpips_weights"), "synthetic:4");
    EXPECT_EQ(method_from("name = \"ct\"\ndistance = \"lpips\"\nlpips_weights = \"synthetic:9\"\n")
                  ->resolved()
                  .at("lpips_weights"),
              "synthetic:9");
  }
  ScopedEnvironment unset("CMBENCH_LPIPS", nullptr);
  const auto message = test::input_error_message([] { method_from("name = \"cd\"\ndistance = \"lpips\"\n"); });
  EXPECT_NE(message.find("method.lpips_weights: not given and $CMBENCH_LPIPS is unset"), std::string::npos) << message;
  EXPECT_NE(message.find("https://download.pytorch.org/models/vgg16-397923af.pth"), std::string::npos) << message;
  EXPECT_NE(message.find("scripts/convert-lpips-weights"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  // A named file is read when the method prepares for training (a plan reads without it).
  const auto unread = method_from("name = \"ct\"\ndistance = \"lpips\"\nlpips_weights = \"/nonexistent/lpips.npz\"\n");
  const auto missing = test::input_error_message([&] { unread->prepare(); });
  EXPECT_NE(missing.find("method.lpips_weights '/nonexistent/lpips.npz': no such file"), std::string::npos) << missing;
  const auto protocol = test::input_error_message(
      [] { method_from("name = \"ct\"\ndistance = \"lpips\"\nlpips_weights = \"synthetic:0\"\nlpips_protocol = \"piq\"\n"); });
  EXPECT_NE(protocol.find("method.lpips_protocol 'piq'"), std::string::npos) << protocol;
  // The LPIPS keys belong to distance = "lpips" alone.
  EXPECT_NE(test::input_error_message([] { method_from("name = \"ct\"\nlpips_weights = \"synthetic:0\"\n"); })
                .find("unknown key 'method.lpips_weights'"),
            std::string::npos);
}

TEST(LpipsDistance, ClosedFormDistancesAreUnchanged) {
  auto method = method_from("name = \"ct\"\n");
  EXPECT_EQ(method->resolved().at("distance"), "l2");
  EXPECT_FALSE(method->resolved().contains("lpips_weights"));
  const auto a = torch::rand({2, 3, 4, 4}), b = torch::rand({2, 3, 4, 4});
  EXPECT_TRUE(torch::allclose(cm_distance("l2", a, b, 0), (a - b).square().mean({1, 2, 3})));
  EXPECT_NE(test::input_error_message([&] { cm_distance("lpips", a, b, 0); }).find("CmDistance"), std::string::npos);
}

TEST(LpipsDistance, RefusesImagesThatAreNotRgb) {
  auto method = method_from("name = \"ct\"\ndistance = \"lpips\"\nlpips_weights = \"synthetic:0\"\n");
  torch::manual_seed(1);
  auto net = std::make_shared<MlpDenoiser>(MlpOptions().img_channels(2).img_resolution(16).hidden(8), PrecondConfig{});
  TrainingBatch batch{torch::zeros({2, 2, 16, 16}), {}, {}, {}, {}, {}};
  StepContext ctx;
  ctx.generator = make_generator(1, "test");
  EXPECT_NE(test::input_error_message([&] { method->step_loss(batch, ctx, Networks{net, nullptr, nullptr}); })
                .find("method.distance 'lpips': needs RGB images (N, 3, H, W), got [2, 2, 16, 16]"),
            std::string::npos);
}

// `cmbench train`: a 2-step EDM teacher, then 2 CD steps with LPIPS on synthetic weights.
TEST(LpipsDistance, CliTrainsCdWithLpips) {
  test::TempDir dir;
  const auto head = "seed = 3\ndevice = \"cpu\"\n" + test::tiny_data_and_net() +
                    "[train]\nsteps = 2\nbatch = 2\ncheckpoint_every = 2\nlog_every = 1\n";
  test::write_text(dir.file("edm.toml"), head + "[method]\nname = \"edm\"\n");
  auto teacher = test::run_cli({"train", "--config", dir.file("edm.toml"), "--out", dir.file("edm")});
  ASSERT_EQ(teacher.exit_code, 0) << teacher.err;
  const auto ckpt = dir.file("edm/ckpt-00000002.h5");
  test::write_text(dir.file("cd.toml"), head + "[method]\nname = \"cd\"\n");
  auto cd = test::run_cli({"train", "--config", dir.file("cd.toml"), "--out", dir.file("cd"), "--set",
                           "train.teacher=\"" + ckpt + "\"", "--set", "train.init=\"" + ckpt + "\"", "--set",
                           "method.distance=\"lpips\"", "--set", "method.lpips_weights=\"synthetic:0\"", "--set",
                           "method.lpips_protocol=\"lpips\""});
  ASSERT_EQ(cd.exit_code, 0) << cd.err;
  const auto log = test::read_text(dir.file("cd/training_log.csv"));
  EXPECT_EQ(log.find("nan"), std::string::npos) << log;
  const auto method = read_checkpoint(dir.file("cd/ckpt-00000002.h5")).config.at("method");
  EXPECT_EQ(method.at("distance"), "lpips");
  EXPECT_EQ(method.at("lpips_weights"), "synthetic:0");
  EXPECT_EQ(method.at("lpips_protocol"), "lpips");

  auto refused = test::run_cli({"train", "--config", dir.file("cd.toml"), "--out", dir.file("cd2"), "--set",
                                "train.teacher=\"" + ckpt + "\"", "--set", "method.distance=\"lpips\""},
                               {"CMBENCH_LPIPS="});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("method.lpips_weights: not given"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace cmbench
