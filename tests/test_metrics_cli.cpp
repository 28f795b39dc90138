// The metric commands end to end through the cmbench binary, with synthetic weights on a few
// 32x32 images (the network at 299x299 on a handful of images keeps this fast).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <torch/torch.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/numpy_random.h"
#include "metrics/kid.h"
#include "metrics/precision_recall.h"
#include "metrics/statistics.h"
#include "metrics/swd.h"
#include "test_util.h"

namespace cmbench {
namespace {

const std::vector<std::string> kNoWeightsEnv = {"CMBENCH_INCEPTION="};

std::string write_images(const test::TempDir& dir, const std::string& name, int64_t n, int64_t size, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto images = torch::randint(0, 256, {n, size, size, 3}, gen, torch::kUInt8);
  const auto path = dir.file(name);
  write_npz(path, {{"images", from_tensor(images)}});
  return path;
}

nlohmann::json parse_json(const test::CliResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

TEST(MetricsCli, StatsFidAndFrechetAgree) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 5, 32, 1);
  const auto b = write_images(dir, "b.npz", 6, 32, 2);
  const auto stats_a = dir.file("stats_a.npz");
  auto r = test::run_cli({"stats", "--input", a, "--out", stats_a, "--weights", "synthetic:0", "--batch", "2"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("2048"), std::string::npos) << r.err;  // the n < 2048 warning
  const auto s = read_statistics(stats_a);
  EXPECT_EQ(s.n, 5);
  EXPECT_EQ(s.mu.size(0), 2048);
  EXPECT_EQ(s.meta.at("mode"), "tf");
  EXPECT_EQ(s.meta.at("detector"), "native");
  EXPECT_EQ(s.meta.at("ddof"), 1);

  // Images vs statistics file vs images: the same FID either way.
  r = test::run_cli({"fid", a, b, "--weights", "synthetic:0", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double fid_images = parse_json(r).at("fid").get<double>();
  EXPECT_GT(fid_images, 0.0);
  r = test::run_cli({"fid", stats_a, b, "--weights", "synthetic:0", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(parse_json(r).at("fid").get<double>(), fid_images, 1e-6 * fid_images);

  // Two statistics files need no weights; identical ones give ~0.
  r = test::run_cli({"fid", stats_a, stats_a, "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Fewer vectors than dimensions: the value stands, with a warning that it is biased (issue 17.4).
  EXPECT_NE(r.err.find("5 feature vectors in 2048 dimensions: the covariance is singular"), std::string::npos) << r.err;
  // n = 5 < D: about D null-space eigenvalues of A S A are rounding noise of size up to
  // eps * lambda_max^2, and the method sums their square roots, so identical inputs give up to
  // 2 * D * sqrt(eps) * lambda_max (lambda_max <= tr S) instead of 0 (measured: -3.8e-6 here).
  const double bound = 2.0 * 2048 * std::sqrt(std::numeric_limits<double>::epsilon()) * s.sigma.trace().item<double>();
  EXPECT_NEAR(parse_json(r).at("fid").get<double>(), 0.0, bound);
}

TEST(MetricsCli, SubsetByEdmRuleAndPytorchMode) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 6, 32, 3);
  const auto stats = dir.file("s.npz");
  auto r = test::run_cli({"stats", "--input", a, "--out", stats, "--weights", "synthetic:1", "--num", "3",
                          "--mode", "pytorch", "--ddof", "0"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto s = read_statistics(stats);
  EXPECT_EQ(s.n, 3);
  EXPECT_EQ(s.meta.at("mode"), "pytorch");
  EXPECT_EQ(s.meta.at("ddof"), 0);
  r = test::run_cli({"fid", a, a, "--weights", "synthetic:1", "--num", "7"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--num 7"), std::string::npos) << r.err;
}

TEST(MetricsCli, FeaturesAndInceptionScore) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 4, 32, 4);
  const auto out = dir.file("f.npz");
  auto r = test::run_cli({"features", "--input", a, "--out", out, "--weights", "synthetic:0", "--layer", "logits_unbiased"},
                         kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto f = read_npz(out);
  EXPECT_EQ(f.at("features").shape, (std::vector<int64_t>{4, 1008}));
  EXPECT_EQ(f.at("features").dtype, DType::f32);

  r = test::run_cli({"is", a, "--weights", "synthetic:0", "--splits", "2", "--shuffle-seed", "2020", "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = parse_json(r);
  EXPECT_GE(j.at("is_mean").get<double>(), 1.0);
  EXPECT_GE(j.at("is_std").get<double>(), 0.0);
  EXPECT_EQ(j.at("n"), 4);
}

// `cmbench kid` and `pr` on images equal the same commands on their `cmbench features` files and the
// functions of metrics/kid.h and precision_recall.h on those features (one compute path).
TEST(MetricsCli, KidAndPrecisionRecallOnImagesAndFeatureFiles) {
  test::TempDir dir;
  const auto generated = write_images(dir, "g.npz", 12, 32, 7);
  const auto reference = write_images(dir, "r.npz", 10, 32, 8);
  const auto features_of = [&](const std::string& images, const std::string& name) {
    const auto out = dir.file(name);
    const auto r = test::run_cli({"features", "--input", images, "--out", out, "--weights", "synthetic:0"}, kNoWeightsEnv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  };
  const auto fg = features_of(generated, "fg.npz"), fr = features_of(reference, "fr.npz");
  const auto g = to_tensor(read_npz(fg).at("features")), ref = to_tensor(read_npz(fr).at("features"));

  const auto kid = kernel_inception_distance(g, ref, KidOptions().subsets(4).subset_size(6));
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{{generated, reference}, {fg, fr}}) {
    auto r = test::run_cli({"kid", a, b, "--weights", "synthetic:0", "--subsets", "4", "--subset-size", "6", "--json"},
                           kNoWeightsEnv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = parse_json(r);
    EXPECT_EQ(j.at("kid_mean").get<double>(), kid.mean) << a;
    EXPECT_EQ(j.at("kid_std").get<double>(), kid.std) << a;
    EXPECT_EQ(j.at("n"), (nlohmann::json{12, 10}));
  }
  const auto pr = precision_recall(ref, g);
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{{reference, generated}, {fr, fg}}) {
    auto r = test::run_cli({"pr", a, b, "--weights", "synthetic:0", "--json"}, kNoWeightsEnv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = parse_json(r);
    EXPECT_EQ(j.at("precision").get<double>(), pr.precision) << a;
    EXPECT_EQ(j.at("recall").get<double>(), pr.recall) << a;
    EXPECT_EQ(j.at("precision_count"), pr.precision_count);
  }
  // A subset larger than a set, and logits where pool3 features are needed, are one line each.
  auto r = test::run_cli({"kid", fg, fr, "--json"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("1000"), std::string::npos) << r.err;
  const auto logits = dir.file("logits.npz");
  ASSERT_EQ(test::run_cli({"features", "--input", generated, "--out", logits, "--weights", "synthetic:0", "--layer",
                           "logits_unbiased"},
                          kNoWeightsEnv)
                .exit_code,
            0);
  r = test::run_cli({"pr", fr, logits}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("needs pool3"), std::string::npos) << r.err;
}

TEST(MetricsCli, SwdNeedsNoWeights) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 8, 32, 5);
  const auto b = write_images(dir, "b.npz", 9, 32, 6);
  auto r = test::run_cli({"swd", a, a, "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = parse_json(r);
  EXPECT_EQ(j.at("swd").get<double>(), 0.0);
  EXPECT_EQ(j.at("swd_levels").size(), 2u);
  r = test::run_cli({"swd", a, b, "--json", "--seed", "3"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = parse_json(r);
  EXPECT_GT(j.at("swd").get<double>(), 0.0);
  EXPECT_EQ(j.at("n"), 8);
  // --num defaults to the smaller set, which makes it --num 8.
  r = test::run_cli({"swd", a, b, "--json", "--seed", "3", "--num", "8"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_json(r).at("swd"), j.at("swd"));
}

// A set of identical images (a collapsed generator) still gets its number, with one warning naming
// the set (issue 17.4); a set of different images gets none.
TEST(MetricsCli, IdenticalImagesAreWarnedAbout) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 8, 32, 5);
  const auto constant = dir.file("constant.npz");
  write_npz(constant, {{"images", from_tensor(torch::full({8, 32, 32, 3}, 7, torch::kUInt8))}});
  auto r = test::run_cli({"swd", constant, a, "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("all 8 images are identical (a collapsed or constant generator?)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("constant.npz"), std::string::npos) << r.err;
  EXPECT_GT(parse_json(r).at("swd").get<double>(), 0.0);
  r = test::run_cli({"swd", a, a, "--json"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("identical"), std::string::npos) << r.err;
}

// `--num` takes EDM's subset of each set (DESIGN.md), with --seed also seeding the subsets; the
// first n images would give another value.
TEST(MetricsCli, SwdNumTakesTheEdmSubset) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 8, 32, 5);
  const auto b = write_images(dir, "b.npz", 9, 32, 6);
  auto r = test::run_cli({"swd", a, b, "--json", "--seed", "3", "--num", "5"}, kNoWeightsEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = parse_json(r);
  EXPECT_EQ(j.at("n"), 5);
  const auto images_a = to_tensor(read_npz(a).at("images")), images_b = to_tensor(read_npz(b).at("images"));
  const auto subset = [](const torch::Tensor& images, int64_t seed) {
    return images.index_select(0, torch::tensor(edm_subset_indices(images.size(0), 5, seed), torch::kInt64)).contiguous();
  };
  const auto want = sliced_wasserstein(subset(images_a, 3), subset(images_b, 3), SwdOptions().seed(3));
  EXPECT_EQ(j.at("swd").get<double>(), want.average);
  const auto first = sliced_wasserstein(images_a.slice(0, 0, 5).contiguous(), images_b.slice(0, 0, 5).contiguous(),
                                        SwdOptions().seed(3));
  EXPECT_NE(j.at("swd").get<double>(), first.average);
  r = test::run_cli({"swd", a, b, "--num", "9"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(a), std::string::npos) << r.err;
}

TEST(MetricsCli, ClearErrors) {
  test::TempDir dir;
  const auto a = write_images(dir, "a.npz", 2, 32, 7);
  // No weights: exit 2, saying where to get them.
  auto r = test::run_cli({"fid", a, a}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("inception-2015-12-05.pt"), std::string::npos) << r.err;
  r = test::run_cli({"is", a}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  // Missing weights file, explicit --mode with a TorchScript file.
  r = test::run_cli({"stats", "--input", a, "--out", dir.file("s.npz"), "--weights", dir.file("none.npz")}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("none.npz"), std::string::npos) << r.err;
  test::write_text(dir.file("det.pt"), "not torchscript");
  r = test::run_cli({"fid", a, a, "--weights", dir.file("det.pt"), "--mode", "tf"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--mode"), std::string::npos) << r.err;
  r = test::run_cli({"fid", a, a, "--weights", dir.file("det.pt")}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("det.pt"), std::string::npos) << r.err;
  // Empty folder, missing input.
  std::filesystem::create_directory(dir.file("empty"));
  r = test::run_cli({"stats", "--input", dir.file("empty"), "--out", dir.file("s.npz"), "--weights", "synthetic:0"}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = test::run_cli({"swd", dir.file("missing.npz"), a}, kNoWeightsEnv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.npz")));
}

TEST(MetricsCli, SelftestInception) {
  auto r = test::run_cli({"selftest", "inception", test::vector_path("inception_synthetic_seed0.npz")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("pool3_tf_17x23"), std::string::npos) << r.out;
  // A perturbed copy of one array fails with exit 1, naming it.
  test::TempDir dir;
  auto arrays = read_npz(test::vector_path("inception_synthetic_seed0.npz"));
  auto& pool = arrays.at("pool3_pytorch_64");
  pool.data<float>()[3] += 0.01f * std::abs(pool.data<float>()[3]) + 0.01f;
  // keep only the 64x64 inputs so the check is quick
  NpzMap small{{"seed", arrays.at("seed")}, {"images_64", arrays.at("images_64")}, {"pool3_pytorch_64", pool}};
  const auto bad = dir.file("bad.npz");
  write_npz(bad, small);
  r = test::run_cli({"selftest", "inception", bad});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("pool3_pytorch_64"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cmbench
