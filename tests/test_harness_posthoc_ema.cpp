// EDM2's post-hoc EMA (harness/posthoc_ema.h): the solve against vectors from EDM2's phema.py
// (tests/data/phema/README.md), reconstruction from a trained run's snapshots against profiles tracked
// directly during an identical run, sampling from the output through the CLI, and bad inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/config.h"
#include "core/ema.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "harness/posthoc_ema.h"
#include "harness/trainer.h"
#include "test_util.h"

namespace cmbench {
namespace {

namespace fs = std::filesystem;

std::vector<double> values(const NpzMap& npz, const std::string& key) {
  const auto t = to_tensor(npz.at(key)).to(torch::kFloat64).contiguous();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

NpzMap vectors(const std::string& name) { return read_npz(test::source_path("tests/data/phema/" + name + ".npz")); }

TEST(PosthocEma, GammaAndCorrelationMatchEdm2) {
  const auto exps = vectors("std_to_exp");
  const auto sigma = values(exps, "sigma_rel"), gamma = values(exps, "gamma");
  for (size_t i = 0; i < sigma.size(); ++i)
    EXPECT_NEAR(power_ema_gamma(sigma[i]), gamma[i], 1e-12 * gamma[i]) << sigma[i];

  const auto c = vectors("correlation");
  const auto at = values(c, "a_time"), as = values(c, "a_sigma_rel"), bt = values(c, "b_time"), bs = values(c, "b_sigma_rel");
  const auto want = values(c, "correlation");
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(power_function_correlation(at[i], as[i], bt[i], bs[i]), want[i], 1e-12 * std::abs(want[i])) << i;
}

TEST(PosthocEma, CoefficientsMatchEdm2) {
  for (const auto* name : {"two_stds_regular", "one_std_irregular", "three_stds_dense", "single"}) {
    const auto v = vectors(name);
    const auto got = solve_posthoc_coefficients(values(v, "in_times"), values(v, "in_sigma_rel"), values(v, "out_times"),
                                                values(v, "out_sigma_rel"));
    const auto want = to_tensor(v.at("coefficients")).to(torch::kFloat64);
    ASSERT_EQ(got.sizes(), want.sizes()) << name;
    // Relative to each target's largest coefficient: entries near zero carry the column's rounding.
    const auto scale = want.abs().amax(0, /*keepdim=*/true);
    const double error = ((got - want).abs() / scale).max().item<double>();
    EXPECT_LE(error, 1e-10) << name;
    EXPECT_LE((got.sum(0) - 1).abs().max().item<double>(), 1e-12) << name;
  }
}

TEST(PosthocEma, SolveRefusesIllPosedInput) {
  // A repeated snapshot makes the Gram matrix singular.
  const auto repeated = test::input_error_message(
      [] { solve_posthoc_coefficients({1000, 1000, 2000}, {0.05, 0.05, 0.05}, {2000}, {0.1}); });
  EXPECT_NE(repeated.find("ill-posed"), std::string::npos) << repeated;
  const auto zero = test::input_error_message([] { solve_posthoc_coefficients({1000}, {0.05}, {1000}, {0.0}); });
  EXPECT_NE(zero.find("positive"), std::string::npos) << zero;
  const auto negative = test::input_error_message([] { solve_posthoc_coefficients({1000}, {0.05}, {1000}, {-0.1}); });
  EXPECT_NE(negative.find("positive"), std::string::npos) << negative;
  const auto wide = test::input_error_message([] { solve_posthoc_coefficients({1000}, {0.05}, {1000}, {0.3}); });
  EXPECT_NE(wide.find("too large"), std::string::npos) << wide;
  const auto time = test::input_error_message([] { solve_posthoc_coefficients({0}, {0.05}, {1000}, {0.1}); });
  EXPECT_NE(time.find("positive"), std::string::npos) << time;
}

TEST(PosthocEma, GroupNames) {
  EXPECT_EQ(posthoc_ema_group(0.05), "ema.posthoc-0.050");
  EXPECT_EQ(posthoc_ema_group(0.1), "ema.posthoc-0.100");
  EXPECT_EQ(posthoc_ema_group(0.0525), "ema.posthoc-0.0525");
}

// A 2-D Gaussian toy run (the MLP of test_harness_train.cpp); `emas` holds [ema.*] tables.
std::string toy_run(const std::string& emas, int64_t checkpoint_every, int64_t hidden = 32) {
  return "seed = 11\ndevice = \"cpu\"\n[method]\nname = \"ect\"\nstage_steps = 100\n"
         "[net]\narch = \"mlp\"\nimg_channels = 2\nimg_resolution = 1\nhidden = " + std::to_string(hidden) +
         "\nlayers = 2\ndropout = 0.0\n"
         "[data]\nsource = \"gaussian\"\nmean = 0.3\nstd = 0.5\nchannels = 2\nresolution = 1\n"
         "[train]\nsteps = 40\nbatch = 16\noptimizer = \"radam\"\nlr = 3e-3\ncheckpoint_every = " +
         std::to_string(checkpoint_every) + "\nlog_every = 40\n" + emas;
}

std::string power(const std::string& id, double sigma_rel) {
  return "[ema." + id + "]\nname = \"phema-" + fmt::format("{:.3f}", sigma_rel) + "\"\nkind = \"power\"\nsigma_rel = " +
         std::to_string(sigma_rel) + "\n";
}

void train_toy(const std::string& text, const std::string& out) {
  TrainRequest r;
  r.plan = read_train_plan(Config::from_string(text, "<test>"));
  r.out = out;
  r.progress = false;
  train(std::move(r));
}

torch::Tensor flat(const std::string& path, const std::string& group) {
  std::vector<torch::Tensor> parts;
  const auto checkpoint = read_checkpoint(path, {group});
  for (const auto& [name, tensor] : checkpoint.group(group))
    parts.push_back(tensor.to(torch::kFloat64).flatten());
  return torch::cat(parts);
}

double distance(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).norm().item<double>(); }

TEST(PosthocEma, ReconstructsProfilesTrackedDuringAnIdenticalRun) {
  test::TempDir dir;
  // Snapshots of sigma_rel 0.10 and 0.20 every 2 steps; the same training tracks 0.05 and 0.15 directly.
  train_toy(toy_run(power("a", 0.10) + power("b", 0.20), 2), dir.file("snapshots"));
  train_toy(toy_run(power("a", 0.05) + power("b", 0.15) + power("c", 0.10), 0), dir.file("direct"));
  const auto last = dir.file("snapshots/ckpt-00000040.h5"), direct = dir.file("direct/ckpt-00000040.h5");
  ASSERT_TRUE(torch::equal(flat(last, "model"), flat(direct, "model")));  // EMA profiles do not change training
  ASSERT_TRUE(torch::equal(flat(last, "ema.phema-0.100"), flat(direct, "ema.phema-0.100")));

  const auto checkpoints = posthoc_snapshot_checkpoints(RunFolder(dir.file("snapshots")));
  ASSERT_EQ(checkpoints.size(), 20u);
  EXPECT_EQ(checkpoints.front(), dir.file("snapshots/ckpt-00000002.h5"));
  const auto out = dir.file("posthoc.h5");
  const auto result = reconstruct_posthoc_emas(checkpoints, {0.05, 0.15, 0.10}, out, false);
  ASSERT_EQ(result.groups, (std::vector<std::string>{"ema.posthoc-0.050", "ema.posthoc-0.150", "ema.posthoc-0.100"}));
  EXPECT_EQ(result.snapshots.size(), 40u);
  EXPECT_EQ(result.images, 40 * 16);

  // A target in the basis (0.10 at the last snapshot) comes back as that snapshot.
  EXPECT_LE(distance(flat(out, "ema.posthoc-0.100"), flat(last, "ema.phema-0.100")), 1e-6);
  // Targets outside it: two orders of magnitude closer to the directly tracked profile than the nearest tracked neighbours.
  for (const auto& [target, group, neighbour] :
       std::vector<std::tuple<double, std::string, std::string>>{{0.05, "ema.phema-0.050", "ema.phema-0.100"},
                                                                 {0.15, "ema.phema-0.150", "ema.phema-0.100"}}) {
    const auto want = flat(direct, group);
    const double error = distance(flat(out, posthoc_ema_group(target)), want);
    const double spread = distance(flat(last, neighbour), want);
    EXPECT_LT(error, 0.01 * spread) << target << ": error " << error << ", neighbour at " << spread;
  }
  // 0.15 lies between the snapshots' 0.10 and 0.20.
  const auto mid = flat(out, "ema.posthoc-0.150"), low = flat(last, "ema.phema-0.100"), high = flat(last, "ema.phema-0.200");
  EXPECT_LT(distance(mid, low), distance(high, low));
  EXPECT_LT(distance(mid, high), distance(high, low));

  // The output samples like the last checkpoint: its config, step and weights groups; no optimizer.
  const auto source = read_checkpoint(last), written = read_checkpoint(out);
  EXPECT_EQ(written.config, source.config);
  EXPECT_EQ(written.attributes.at("step"), source.attributes.at("step"));
  EXPECT_FALSE(written.has("optimizer"));
  for (const auto* group : {"model", "ema.phema-0.100", "ema.phema-0.200"})
    EXPECT_TRUE(torch::equal(flat(out, group), flat(last, group))) << group;
  const auto record = nlohmann::json::parse(written.attributes.at("posthoc_ema").get<std::string>());
  EXPECT_EQ(record.at("snapshots").size(), 40u);
  EXPECT_EQ(record.at("images").get<int64_t>(), 640);

  // The single-target interface and the CLI, and sampling from the output.
  EXPECT_EQ(reconstruct_posthoc_ema(checkpoints, 0.05, dir.file("one.h5")), "ema.posthoc-0.050");
  EXPECT_TRUE(torch::equal(flat(dir.file("one.h5"), "ema.posthoc-0.050"), flat(out, "ema.posthoc-0.050")));
  const auto cli = test::run_cli({"ema", "reconstruct", dir.file("snapshots"), "--sigma-rel", "0.05,0.15", "--out",
                                  dir.file("cli/posthoc.h5"), "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto summary = nlohmann::json::parse(cli.out);
  EXPECT_EQ(summary.at("snapshots").get<int64_t>(), 40);
  EXPECT_EQ(summary.at("targets").at(1).at("group").get<std::string>(), "ema.posthoc-0.150");
  EXPECT_TRUE(torch::equal(flat(dir.file("cli/posthoc.h5"), "ema.posthoc-0.150"), flat(out, "ema.posthoc-0.150")));
  const auto sampled = test::run_cli({"sample", "--ckpt", dir.file("cli/posthoc.h5"), "--ema", "posthoc-0.050", "--num",
                                      "4", "--out", dir.file("s.npz"), "--raw"});
  ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
  EXPECT_EQ(to_tensor(read_npz(dir.file("s.npz")).at("raw")).sizes(), (std::vector<int64_t>{4, 2, 1, 1}));
}

TEST(PosthocEma, BadInputsNameTheFile) {
  test::TempDir dir;
  train_toy(toy_run("[ema.ema]\nkind = \"fixed\"\nbeta = 0.9\n", 20), dir.file("fixed"));
  train_toy(toy_run(power("a", 0.10), 20), dir.file("one"));
  train_toy(toy_run(power("a", 0.10), 20, 16), dir.file("narrow"));
  const auto fixed = dir.file("fixed/ckpt-00000040.h5"), one = dir.file("one/ckpt-00000040.h5");
  const auto out = dir.file("out.h5");

  const auto none = test::input_error_message([&] { reconstruct_posthoc_ema({fixed}, 0.05, out); });
  EXPECT_NE(none.find(fixed), std::string::npos) << none;
  EXPECT_NE(none.find("no power-function EMA"), std::string::npos) << none;

  for (const double bad : {0.0, -0.05, 0.5}) {
    const auto message = test::input_error_message([&] { reconstruct_posthoc_ema({one}, bad, out); });
    EXPECT_NE(message.find(out), std::string::npos) << message;
  }

  const auto twice = test::input_error_message([&] { reconstruct_posthoc_ema({one, one}, 0.05, out); });
  EXPECT_NE(twice.find(one + ": checkpoint given twice"), std::string::npos) << twice;
  // A copy is the same snapshot twice: the solve would be singular.
  fs::copy_file(one, dir.file("copy.h5"));
  const auto repeated = test::input_error_message([&] { reconstruct_posthoc_ema({one, dir.file("copy.h5")}, 0.05, out); });
  EXPECT_NE(repeated.find("copy.h5"), std::string::npos) << repeated;
  EXPECT_NE(repeated.find("ill-posed"), std::string::npos) << repeated;

  const auto narrow = dir.file("narrow/ckpt-00000040.h5");
  const auto mismatch = test::input_error_message(
      [&] { reconstruct_posthoc_ema({dir.file("one/ckpt-00000020.h5"), narrow}, 0.05, out); });
  EXPECT_NE(mismatch.find(narrow), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("network"), std::string::npos) << mismatch;

  const auto missing = test::input_error_message([&] { reconstruct_posthoc_ema({dir.file("nope.h5")}, 0.05, out); });
  EXPECT_NE(missing.find("nope.h5"), std::string::npos) << missing;
  EXPECT_FALSE(fs::exists(out));

  // Two profiles of one run with the same sigma_rel are one snapshot per checkpoint, not a singular solve.
  train_toy(toy_run(power("a", 0.10) + "[ema.b]\nname = \"copy\"\nkind = \"power\"\nsigma_rel = 0.1\n", 20),
            dir.file("same"));
  const auto same = reconstruct_posthoc_emas(posthoc_snapshot_checkpoints(RunFolder(dir.file("same"))), {0.05}, out, false);
  EXPECT_EQ(same.snapshots.size(), 2u);

  // One snapshot is well-posed (EDM2: coefficient 1): the reconstruction is that snapshot.
  EXPECT_EQ(reconstruct_posthoc_ema({one}, 0.05, out), "ema.posthoc-0.050");
  EXPECT_TRUE(torch::equal(flat(out, "ema.posthoc-0.050"), flat(one, "ema.phema-0.100")));

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"ema", "reconstruct", dir.file("one"), "--sigma-rel", "0.05,x", "--out", out},
           {"ema", "reconstruct", dir.file("one"), "--sigma-rel=-1", "--out", out},
           {"ema", "reconstruct", dir.file("fixed"), "--sigma-rel", "0.05", "--out", out},
           {"ema", "reconstruct", dir.file("absent"), "--sigma-rel", "0.05", "--out", out}}) {
    const auto r = test::run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[2] << " " << args[4] << ": " << r.err;
    EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace cmbench
