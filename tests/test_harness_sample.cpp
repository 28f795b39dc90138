// `cmbench sample --sigmas` parsing (DESIGN.md): numbers, once, at the edge; the sampler knob flags
// (--s-churn/--s-min/--s-max/--s-noise, --clamp/--no-clamp) on a toy consistency checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/checkpoint.h"
#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "harness/sample.h"
#include "test_util.h"

namespace cmbench {
namespace {

// One step of CT on the 2-channel 1x1 MLP in `dir`; its checkpoint's path.
std::string train_toy_ct(const test::TempDir& dir) {
  test::write_text(dir.file("ct.toml"),
                   "seed = 7\ndevice = \"cpu\"\n[method]\nname = \"ct\"\n"
                   "[net]\narch = \"mlp\"\nimg_channels = 2\nimg_resolution = 1\nhidden = 16\nlayers = 2\n"
                   "[data]\nsource = \"gaussian\"\nmean = 0.3\nstd = 0.5\nchannels = 2\nresolution = 1\n"
                   "[train]\nsteps = 1\nbatch = 8\nlr = 1e-3\ncheckpoint_every = 1\n");
  const auto trained = test::run_cli({"train", "--config", dir.file("ct.toml"), "--out", dir.file("run")});
  EXPECT_EQ(trained.exit_code, 0) << trained.err;
  return dir.file("run/ckpt-00000001.h5");
}

TEST(SampleSigmas, ParseOnceIntoNumbers) {
  EXPECT_TRUE(parse_sigma_list("").empty());
  EXPECT_EQ(parse_sigma_list("1.5,0.3"), (std::vector<double>{1.5, 0.3}));
  EXPECT_EQ(parse_sigma_list("0.821"), std::vector<double>{0.821});
  try {
    parse_sigma_list("1.5,x");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--sigmas '1.5,x': 'x' is not a number");
  }
  EXPECT_THROW(parse_sigma_list("0.3q"), InputError);
}


// A CT run on the 2-channel 1x1 MLP: openai's rule clamps its x0 estimates unless --no-clamp.
TEST(SampleKnobs, ClampFlagsAndChurnRules) {
  test::TempDir dir;
  const auto ckpt = train_toy_ct(dir);
  // Latents of 1000 put c_skip(80) x = 80000 c_skip(80) far outside [-1, 1].
  write_npz(dir.file("noise.npz"), {{"noise", from_tensor(torch::full({4, 2, 1, 1}, 1000.0, torch::kFloat32))}});
  const auto raw = [&](const std::string& name, std::vector<std::string> flags) {
    std::vector<std::string> args{"sample", "--ckpt", ckpt, "--num", "4", "--out", dir.file(name + ".npz"), "--raw",
                                  "--noise", dir.file("noise.npz"), "--steps", "2"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto result = test::run_cli(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return std::make_pair(to_tensor(read_npz(dir.file(name + ".npz")).at("raw")), result.out);
  };
  const auto [by_default, default_out] = raw("default", {});
  const auto [clamped, clamped_out] = raw("clamped", {"--clamp"});
  const auto [loose, loose_out] = raw("loose", {"--no-clamp"});
  ASSERT_GT(loose.abs().max().item<float>(), 1.0f);
  EXPECT_LE(by_default.abs().max().item<float>(), 1.0f);
  EXPECT_TRUE(torch::equal(by_default, clamped));
  EXPECT_FALSE(torch::equal(by_default, loose));
  EXPECT_NE(loose_out.find("\"knobs\": \"no x0 clamp\""), std::string::npos) << loose_out;
  EXPECT_NE(default_out.find("\"knobs\": \"\""), std::string::npos) << default_out;

  const auto fails = [&](std::vector<std::string> flags, const std::string& message) {
    std::vector<std::string> args{"sample", "--ckpt", ckpt, "--num", "1", "--out", dir.file("x.npz")};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto result = test::run_cli(args);
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  };
  fails({"--s-churn", "40"}, "S_churn, S_min, S_max and S_noise apply to the heun sampler, not cm");
  fails({"--sampler", "heun", "--clamp"}, "clamp applies to the consistency samplers (cm, ect), not heun");
  fails({"--s-min", "10", "--s-max", "5"}, "--s-max 5 is below --s-min 10");
  fails({"--s-churn", "-1"}, "--s-churn");
  fails({"--s-noise", "0"}, "--s-noise");
}

// Weights holding a NaN make every image non-finite: sampling stops with one line naming the
// checkpoint and its weights group instead of writing black images (issue 17: no silent garbage).
TEST(SampleChecks, NonFiniteNetworkOutputStops) {
  test::TempDir dir;
  const auto ckpt = train_toy_ct(dir);
  auto checkpoint = read_checkpoint(ckpt);
  const auto sampled = test::run_cli({"sample", "--ckpt", ckpt, "--num", "4", "--out", dir.file("good.npz")});
  ASSERT_EQ(sampled.exit_code, 0) << sampled.err;
  for (const auto& name : {"ema", "model"}) {
    if (!checkpoint.has(name)) continue;
    for (auto& [key, tensor] : checkpoint.groups.at(name)) tensor = torch::full_like(tensor, std::nan(""));
  }
  write_checkpoint(dir.file("nan.h5"), checkpoint);
  for (const auto& out : {dir.file("nan.npz"), dir.file("nan-png")}) {
    const auto result = test::run_cli({"sample", "--ckpt", dir.file("nan.h5"), "--num", "4", "--out", out});
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find(dir.file("nan.h5") + ": weights group '"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("gives non-finite values (NaN or inf) at seed 0"), std::string::npos) << result.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("nan.npz")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("nan-png/000000.png")));
  }
}

}  // namespace
}  // namespace cmbench
