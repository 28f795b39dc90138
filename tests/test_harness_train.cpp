// The training loop: determinism and bit-exact resume on CPU, the NaN guard, the training log,
// ECT on 2-D Gaussian data approaching the exact consistency function, every method training
// without diverging, and `cmbench sample` reproducing a checkpoint's one-step output from --noise.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/torch_compat.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "harness/trainer.h"
#include "methods/registry.h"
#include "nets/checkpoint_io.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;

// 2-D isotropic Gaussian data N(mu, d^2 I), mu = 0.3, d = 0.5, a small MLP with dropout.
std::string toy_config(const std::string& method, int64_t steps, int64_t checkpoint_every) {
  return "seed = 7\ndevice = \"cpu\"\n"
         "[method]\nname = \"" + method + "\"\n" +
         (method == "ect" || method == "sct" ? "stage_steps = 100\n" : "") +
         "[net]\narch = \"mlp\"\nimg_channels = 2\nimg_resolution = 1\nhidden = 64\nlayers = 2\ndropout = 0.1\n"
         "[data]\nsource = \"gaussian\"\nmean = 0.3\nstd = 0.5\nchannels = 2\nresolution = 1\n"
         "[train]\nsteps = " + std::to_string(steps) + "\nbatch = 64\noptimizer = \"radam\"\nlr = 1e-3\n"
         "checkpoint_every = " + std::to_string(checkpoint_every) + "\nlog_every = 1\n"
         "[ema.ema]\nkind = \"fixed\"\nbeta = 0.99\n"
         "[ema.phema]\nname = \"phema-0.050\"\nkind = \"power\"\nsigma_rel = 0.05\n";
}

TrainSummary run(const std::string& text, const std::string& out, bool resume = false,
                 const std::vector<std::string>& sets = {}) {
  auto config = Config::from_string(text, "<test>");
  config.set_all(sets);
  TrainRequest r;
  r.plan = read_train_plan(config);
  r.out = out;
  r.resume = resume;
  r.progress = false;
  return train(std::move(r));
}

void expect_same_checkpoint(const std::string& a, const std::string& b) {
  const auto ca = read_checkpoint(a), cb = read_checkpoint(b);
  ASSERT_EQ(ca.groups.size(), cb.groups.size());
  for (const auto& [name, tensors] : ca.groups) {
    const auto& other = cb.group(name);
    ASSERT_EQ(tensors.size(), other.size()) << name;
    for (size_t i = 0; i < tensors.size(); ++i)
      EXPECT_TRUE(torch::equal(tensors[i].second, other[i].second)) << name << "/" << tensors[i].first;
  }
}

// The plan holds every value train() uses, defaults included, and the config it came from.
TEST(TrainPlan, ReadsTheConfigOnceWithItsDefaults) {
  auto plan = read_train_plan(Config::from_string(toy_config("ect", 12, 4), "<test>"));
  EXPECT_EQ(plan.seed, 7u);
  EXPECT_EQ(plan.device, "cpu");
  EXPECT_EQ(plan.method->name(), "ect");
  EXPECT_EQ(plan.net.at("arch").get<std::string>(), "mlp");
  EXPECT_EQ(plan.steps, 12);
  EXPECT_EQ(plan.batch, 64);
  EXPECT_EQ(plan.checkpoint_every, 4);
  EXPECT_EQ(plan.optimizer, "radam");
  EXPECT_EQ(plan.lr_schedule.kind, "constant");
  EXPECT_EQ(plan.lr_schedule.base_lr, 1e-3);
  EXPECT_EQ(plan.adam.lr(), 1e-3);
  EXPECT_EQ(plan.precision, "fp32");
  EXPECT_EQ(plan.grad_clip, 0.0);
  EXPECT_EQ(plan.out, "runs/train");
  EXPECT_EQ(plan.data.source, "gaussian");
  EXPECT_EQ(plan.data.mean, 0.3);
  ASSERT_EQ(plan.emas.size(), 2u);
  EXPECT_EQ(plan.emas[0].name, "ema");
  EXPECT_EQ(plan.emas[1].name, "phema-0.050");
  EXPECT_EQ(plan.emas[1].options.sigma_rel(), 0.05);
  EXPECT_EQ(plan.config.get<int64_t>("train.steps"), 12);

  plan.set_init("start.h5");
  plan.set_teacher("teacher.h5");
  EXPECT_EQ(plan.init, "start.h5");
  EXPECT_EQ(plan.config.get<std::string>("train.init"), "start.h5");
  EXPECT_EQ(plan.config.get<std::string>("train.teacher"), "teacher.h5");
}

TEST(TrainPlan, BadConfigsNameTheKey) {
  const auto error = [](const std::string& method, const std::string& set) {
    auto config = Config::from_string(toy_config(method, 4, 0), "<test>");
    if (!set.empty()) config.set(set);
    return test::input_error_message([&] { read_train_plan(config); });
  };
  EXPECT_NE(error("cd", "").find("needs train.teacher"), std::string::npos);
  EXPECT_NE(error("ect", "train.precision=\"fp16\"").find("'fp16'"), std::string::npos);
  EXPECT_NE(error("ect", "data.bogus=1").find("bogus"), std::string::npos);
  const auto unknown = test::input_error_message(
      [] { read_train_plan(Config::from_string(toy_config("ect", 4, 0) + "bogus = 1\n", "<test>")); });
  EXPECT_NE(unknown.find("<test>:"), std::string::npos) << unknown;  // the line of ema.phema.bogus
  EXPECT_NE(unknown.find("bogus"), std::string::npos) << unknown;
}

TEST(Train, ResumeIsBitExactAndLogContinues) {
  test::TempDir dir;
  const auto text = toy_config("ect", 12, 4);
  const auto full = run(text, dir.file("a"));
  ASSERT_TRUE(fs::exists(dir.file("a/ckpt-00000012.h5")));
  // An identical second run gives identical weights (determinism).
  run(text, dir.file("b"));
  expect_same_checkpoint(dir.file("a/ckpt-00000012.h5"), dir.file("b/ckpt-00000012.h5"));
  // Interrupt after step 8: drop the later checkpoint, resume from ckpt-8.
  fs::remove(dir.file("b/ckpt-00000012.h5"));
  const auto resumed = run(text, dir.file("b"), true);
  EXPECT_EQ(resumed.start_step, 8);
  expect_same_checkpoint(dir.file("a/ckpt-00000012.h5"), dir.file("b/ckpt-00000012.h5"));
  const auto log_a = test::read_text(dir.file("a/training_log.csv"));
  const auto log_b = test::read_text(dir.file("b/training_log.csv"));
  // Same losses and gradient norms on every step (the images/s column differs).
  auto strip_rate = [](const std::string& log) {
    std::string out, line;
    std::istringstream in(log);
    while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  EXPECT_EQ(strip_rate(log_a), strip_rate(log_b));
  EXPECT_EQ(std::count(log_a.begin(), log_a.end(), '\n'), 13);
  // Without --resume an existing folder is refused.
  EXPECT_THROW(run(text, dir.file("a")), InputError);
}

TEST(Train, NanLossStopsAndKeepsLastCheckpoint) {
  test::TempDir dir;
  const auto text = toy_config("ect", 8, 4);
  run(toy_config("ect", 4, 4), dir.file("a"));
  try {
    run(text, dir.file("a"), true, {"data.mean=nan"});
    FAIL() << "a NaN loss must stop training";
  } catch (const CheckError& e) {
    EXPECT_NE(std::string(e.what()).find("ckpt-00000004.h5"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(dir.file("a/ckpt-00000004.h5")));
  EXPECT_FALSE(fs::exists(dir.file("a/ckpt-00000008.h5")));
}

// ECT from scratch on N(mu, d^2 I): the EMA network approaches f(x, t) = mu + (x - mu) d / sqrt(d^2 + t^2).
TEST(Train, EctApproachesGaussianConsistencyFunction) {
  test::TempDir dir;
  const double mu = 0.3, d = 0.5;
  auto error_of = [&](Denoiser& net) {
    net.eval();
    torch::NoGradGuard no_grad;
    auto g = compat::make_cpu_generator(99);
    double worst = 0;
    for (double t : {0.1, 0.5, 1.0, 2.0, 5.0}) {
      const auto x = mu + std::sqrt(d * d + t * t) * torch::randn({512, 2, 1, 1}, g, torch::kFloat32);
      const auto exact = mu + (x - mu) * (d / std::sqrt(d * d + t * t));
      const auto got = net.forward(x, torch::full({512}, t));
      worst = std::max(worst, (got - exact).square().mean().sqrt().item<double>());
    }
    return worst;
  };
  run(toy_config("ect", 1, 1), dir.file("init"));
  auto untrained = load_network(dir.file("init/ckpt-00000001.h5"), "model");
  const double before = error_of(*untrained);
  // As the paper: ECT starts from an EDM model, whose D(x, t) = mu + d^2 / (d^2 + t^2) (x - mu) is
  // not the consistency function; ECT must move it there.
  const std::vector<std::string> sets{"train.batch=256", "ema.ema.beta=0.99"};
  run(toy_config("edm", 800, 0), dir.file("edm"), false, sets);
  const auto teacher = dir.file("edm/ckpt-00000800.h5");
  const double edm_error = error_of(*load_network(teacher, "ema"));
  auto ect_sets = sets;
  ect_sets.push_back("train.init=\"" + teacher + "\"");
  ect_sets.push_back("method.stage_steps=200");
  run(toy_config("ect", 800, 0), dir.file("ect"), false, ect_sets);
  const double after = error_of(*load_network(dir.file("ect/ckpt-00000800.h5"), "ema"));
  std::printf("ECT 2-D Gaussian: RMS error of f: untrained %.4f, EDM init %.4f, after ECT %.4f\n", before, edm_error,
              after);
  EXPECT_LT(after, 0.25 * before);
  EXPECT_LT(after, 0.7 * edm_error);
}

// The method a config's [method] table makes, as the trainer makes it.
std::unique_ptr<Method> method_of(const std::string& config_text) {
  return make_method(Config::from_string(config_text, "<test>").sub("method"));
}

// Every registered method from the same EDM initialization (the teacher of those that need one).
TEST(Train, EveryMethodTrainsWithoutDiverging) {
  test::TempDir dir;
  const auto edm = run(toy_config("edm", 60, 0), dir.file("edm"));
  EXPECT_TRUE(std::isfinite(edm.final_loss));
  const auto teacher = dir.file("edm/ckpt-00000060.h5");
  for (const auto& method : method_registry().names()) {
    if (method == "edm") continue;  // trained above
    const auto config = toy_config(method, 60, 0);
    const auto rules = method_of(config);
    std::vector<std::string> sets{"train.init=\"" + teacher + "\""};
    if (rules->needs_teacher()) sets.push_back("train.teacher=\"" + teacher + "\"");
    // SCT's reference pool draws further training images each step; its default is the batch alone.
    if (method == "sct") sets.insert(sets.end(), {"method.reference_set=\"pool\"", "method.pool_size=256"});
    const auto s = run(config, dir.file(method), false, sets);
    EXPECT_TRUE(std::isfinite(s.final_loss)) << method;
    const auto log = test::read_text(dir.file(method + "/training_log.csv"));
    EXPECT_EQ(log.find("nan"), std::string::npos) << method;
    EXPECT_EQ(read_checkpoint(dir.file(method + "/ckpt-00000060.h5")).has("target"), rules->needs_target_copy())
        << method;
  }
}

// The U-Nets the paper suites train, two steps of every method each: EDM2 (whose forced weight
// normalization rewrites weights in place in train mode, which the target pass must not do to the
// student's graph) with dropout so that the target replays the masks, and ADM with channels-last.
TEST(Train, EveryMethodStepsOnTheEdm2AndAdmUNets) {
  test::TempDir dir;
  for (const std::string preset : {"imagenet64-edm2-tiny", "imagenet64-adm-tiny"}) {
    const auto base = "seed = 2\ndevice = \"cpu\"\n[net]\npreset = \"" + preset +
                      "\"\nlabel_dim = 0\ndropout = 0.2\n"
                      "[data]\nsource = \"gaussian\"\nchannels = 3\nresolution = 32\n"
                      "[train]\nsteps = 2\nbatch = 4\noptimizer = \"adam\"\nlr = 1e-3\ncheckpoint_every = 2\n"
                      "channels_last = " + std::string(preset == "imagenet64-adm-tiny" ? "true" : "false") + "\n";
    const auto teacher_dir = dir.file(preset + "-edm");
    run(base + "[method]\nname = \"edm\"\n", teacher_dir);
    const auto teacher = teacher_dir + "/ckpt-00000002.h5";
    for (const auto& method : method_registry().names()) {
      if (method == "edm") continue;  // the teacher above
      const auto config = base + "[method]\nname = \"" + method + "\"\npreset = \"imagenet64\"\n";
      std::vector<std::string> sets{"train.init=\"" + teacher + "\""};
      if (method_of(config)->needs_teacher()) sets.push_back("train.teacher=\"" + teacher + "\"");
      const auto s = run(config, dir.file(preset + "-" + method), false, sets);
      EXPECT_TRUE(std::isfinite(s.final_loss)) << preset << " " << method;
    }
  }
}

// `cmbench train` and `cmbench sample --noise`: the one-step output equals f(80 z, 80) of the
// checkpoint's EMA network evaluated directly.
TEST(Train, CliTrainAndSampleReproduceOneStepOutput) {
  test::TempDir dir;
  test::write_text(dir.file("ect.toml"), toy_config("ect", 5, 0));
  auto trained = test::run_cli({"train", "--config", dir.file("ect.toml"), "--out", dir.file("run")});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.out.find("\"checkpoint\""), std::string::npos);
  const auto ckpt = dir.file("run/ckpt-00000005.h5");

  const auto z = torch::randn({6, 2, 1, 1}, torch::kFloat32);
  write_npz(dir.file("noise.npz"), {{"noise", from_tensor(z)}});
  auto sampled = test::run_cli({"sample", "--ckpt", ckpt, "--num", "6", "--out", dir.file("s.npz"), "--noise",
                                dir.file("noise.npz"), "--raw", "--batch", "4"});
  ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
  const auto raw = to_tensor(read_npz(dir.file("s.npz")).at("raw"));
  auto net = load_network(ckpt, "ema");
  net->eval();
  torch::NoGradGuard no_grad;
  const auto want = net->forward(z.to(torch::kFloat64) * 80.0, torch::full({6}, 80.0, torch::kFloat64));
  EXPECT_LE((raw.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(to_tensor(read_npz(dir.file("s.npz")).at("images")).sizes(), (std::vector<int64_t>{6, 1, 1, 2}));

  auto conflict = test::run_cli({"sample", "--ckpt", ckpt, "--num", "2", "--out", dir.file("t.npz"), "--steps", "3"});
  EXPECT_EQ(conflict.exit_code, 2);
}

}  // namespace
}  // namespace cmbench

namespace cmbench {
namespace {

// The CIFAR-10 code path at toy size: 32x32 uint8 images from an .npz through the data loader, the
// DDPM++ U-Net (tiny preset, dropout on), ECT; `cmbench train --resume` after an interruption ends
// with the same weights as an uninterrupted run, and `cmbench sample` writes PNGs.
TEST(Train, UnetResumeThroughCliIsBitExact) {
  test::TempDir dir;
  const auto images = torch::randint(0, 256, {32, 32, 32, 3}, torch::kUInt8);
  write_npz(dir.file("images.npz"), {{"images", from_tensor(images)}});
  test::write_text(dir.file("ect.toml"),
                   "seed = 3\ndevice = \"cpu\"\n[method]\nname = \"ect\"\nstage_steps = 2\n"
                   "[net]\npreset = \"cifar10-ddpmpp-tiny\"\ndropout = 0.2\n"
                   "[data]\nsource = \"" + dir.file("images.npz") + "\"\nflip = true\n"
                   "[train]\nsteps = 2\nbatch = 4\nlr = 1e-4\ncheckpoint_every = 1\nlog_every = 1\n");
  auto full = test::run_cli({"train", "--config", dir.file("ect.toml"), "--out", dir.file("a")});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  // A run interrupted after step 1: its folder holds ckpt-1 and the log so far.
  std::filesystem::create_directories(dir.file("b"));
  std::filesystem::copy_file(dir.file("a/ckpt-00000001.h5"), dir.file("b/ckpt-00000001.h5"));
  std::filesystem::copy_file(dir.file("a/training_log.csv"), dir.file("b/training_log.csv"));
  auto resumed = test::run_cli({"train", "--config", dir.file("ect.toml"), "--out", dir.file("b"), "--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("\"start_step\": 1"), std::string::npos) << resumed.out;
  expect_same_checkpoint(dir.file("a/ckpt-00000002.h5"), dir.file("b/ckpt-00000002.h5"));

  auto sampled = test::run_cli({"sample", "--ckpt", dir.file("a/ckpt-00000002.h5"), "--num", "3", "--out",
                                dir.file("png"), "--steps", "2", "--seeds", "10-12"});
  ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("png/000012.png")));
  EXPECT_NE(sampled.out.find("\"nfe\": 2"), std::string::npos) << sampled.out;
}

// train.precision = "bf16": the forward passes run under autocast (the losses differ from fp32 in
// the low bits but stay close), training stays finite; unknown precisions are refused.
TEST(Train, Bf16AutocastTrainsCloseToFp32) {
  test::TempDir dir;
  const auto text = toy_config("ect", 3, 3);
  run(text, dir.file("fp32"));
  run(text, dir.file("bf16"), false, {"train.precision=\"bf16\""});
  const auto first_loss = [](const std::string& log) {
    std::istringstream in(log);
    std::string line;
    std::getline(in, line);  // header
    std::getline(in, line);
    const auto a = line.find(',');
    return std::stod(line.substr(a + 1, line.find(',', a + 1) - a - 1));
  };
  const double fp32 = first_loss(test::read_text(dir.file("fp32/training_log.csv")));
  const double bf16 = first_loss(test::read_text(dir.file("bf16/training_log.csv")));
  EXPECT_NE(fp32, bf16) << "autocast had no effect";
  EXPECT_NEAR(bf16, fp32, 0.05 * std::abs(fp32));
  const auto ckpt = read_checkpoint(dir.file("bf16/ckpt-00000003.h5"));
  for (const auto& [name, tensor] : ckpt.group("model")) {
    EXPECT_EQ(tensor.scalar_type(), torch::kFloat32) << name;
    EXPECT_TRUE(torch::isfinite(tensor).all().item<bool>()) << name;
  }
  try {
    run(text, dir.file("fp16"), false, {"train.precision=\"fp16\""});
    FAIL() << "fp16 was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expected fp32 or bf16"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cmbench
