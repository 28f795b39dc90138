// Statistics (streaming float64, ddof), their npz files, and the Fréchet distance: closed forms,
// scipy references at D = 64 and 256 (1e-9), and rank-deficient covariances at D = 2048.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/frechet.h"
#include "metrics/statistics.h"
#include "test_util.h"

namespace cmbench {
namespace {

torch::Tensor random_features(int64_t n, int64_t d, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn({n, d}, gen, torch::kFloat32) * 2.0 + 0.5;
}

TEST(Statistics, MatchTextbookFormulaBothDdof) {
  const auto x = random_features(50, 6, 1).to(torch::kFloat64);
  const auto mu = x.mean(0);
  const auto centered = x - mu;
  for (int ddof : {0, 1}) {
    const auto stats = compute_statistics(x, ddof);
    const auto want = torch::matmul(centered.t(), centered) / static_cast<double>(50 - ddof);
    EXPECT_TRUE(torch::allclose(stats.mu, mu, 0, 1e-12));
    EXPECT_TRUE(torch::allclose(stats.sigma, want, 0, 1e-12)) << ddof;
    EXPECT_EQ(stats.n, 50);
    EXPECT_EQ(stats.mu.scalar_type(), torch::kFloat64);
  }
}

TEST(Statistics, StreamingEqualsOneShot) {
  const auto x = random_features(103, 32, 2);
  StatisticsAccumulator acc;
  for (int64_t b = 0; b < 103; b += 10) acc.add(x.slice(0, b, std::min<int64_t>(b + 10, 103)));
  const auto streamed = acc.finish(1);
  const auto once = compute_statistics(x, 1);
  EXPECT_EQ(streamed.n, 103);
  EXPECT_TRUE(torch::allclose(streamed.mu, once.mu, 0, 1e-12));
  EXPECT_TRUE(torch::allclose(streamed.sigma, once.sigma, 0, 1e-11));
  EXPECT_TRUE(torch::equal(streamed.sigma, streamed.sigma.t()));
}

TEST(Statistics, BadInputs) {
  StatisticsAccumulator empty;
  EXPECT_THROW(empty.finish(1), InputError);
  StatisticsAccumulator one;
  one.add(random_features(1, 4, 3));
  EXPECT_THROW(one.finish(1), InputError);  // n - ddof = 0
  EXPECT_NO_THROW(one.finish(0));
  one.add(random_features(2, 4, 3));
  EXPECT_THROW(one.add(random_features(2, 5, 3)), InputError);
  EXPECT_THROW(one.finish(2), InputError);
}

TEST(Statistics, NpzRoundTripAndForeignFiles) {
  test::TempDir dir;
  auto stats = compute_statistics(random_features(40, 8, 4), 1);
  stats.meta = {{"mode", "tf"}, {"ddof", 1}};
  const auto path = dir.file("stats.npz");
  write_statistics(path, stats);
  ASSERT_TRUE(is_statistics_file(path));
  const auto back = read_statistics(path);
  EXPECT_TRUE(torch::equal(back.mu, stats.mu));
  EXPECT_TRUE(torch::equal(back.sigma, stats.sigma));
  EXPECT_EQ(back.n, 40);
  EXPECT_EQ(back.meta.at("mode"), "tf");
  // EDM's and pytorch-fid's files: only mu and sigma (float32 accepted too).
  const auto foreign = dir.file("foreign.npz");
  write_npz(foreign, {{"mu", from_tensor(stats.mu.to(torch::kFloat32))}, {"sigma", from_tensor(stats.sigma)}});
  const auto f = read_statistics(foreign);
  EXPECT_EQ(f.n, -1);
  EXPECT_TRUE(torch::allclose(f.mu, stats.mu, 1e-6, 1e-6));
  // Wrong shapes and missing keys.
  const auto bad = dir.file("bad.npz");
  write_npz(bad, {{"mu", from_tensor(stats.mu)}, {"sigma", from_tensor(stats.sigma.slice(0, 0, 4))}});
  EXPECT_THROW(read_statistics(bad), InputError);
  const auto images_only = dir.file("images.npz");
  write_npz(images_only, {{"images", NpyArray(DType::u8, {1, 4, 4, 3})}});
  EXPECT_FALSE(is_statistics_file(images_only));
  EXPECT_THROW(read_statistics(images_only), InputError);
}

// Found by fuzz/fuzz_statistics: empty statistics reached a reduction that LibTorch refuses with a
// c10::Error, and an `n` of 1e300 or NaN was converted to int64_t (undefined behaviour).
TEST(Statistics, EmptyStatisticsAndImpossibleCountsAreInputErrors) {
  test::TempDir dir;
  const auto empty = dir.file("empty.npz");
  write_npz(empty, {{"mu", NpyArray(DType::f64, {0})}, {"sigma", NpyArray(DType::f64, {0, 0})}});
  EXPECT_NE(test::input_error_message([&] { read_statistics(empty); }).find("is empty"), std::string::npos);
  EXPECT_THROW(check_statistics(torch::zeros({0}, torch::kFloat64), torch::zeros({0, 0}, torch::kFloat64), "x"),
               InputError);
  const auto stats = compute_statistics(random_features(10, 3, 1), 1);
  for (const double n : {1e300, -1.0, 2.5, std::nan("")}) {
    const auto path = dir.file("n.npz");
    write_npz(path, {{"mu", from_tensor(stats.mu)}, {"sigma", from_tensor(stats.sigma)},
                     {"n", NpyArray::from<double>({}, &n)}});
    EXPECT_NE(test::input_error_message([&] { read_statistics(path); }).find("is not a count"), std::string::npos) << n;
  }
}

TEST(Frechet, ClosedForms) {
  const auto doc = nlohmann::json::parse(test::read_text(test::vector_path("closed_forms.json")));
  auto matrix = [](const nlohmann::json& j) {
    const auto rows = j.get<std::vector<std::vector<double>>>();
    auto t = torch::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, torch::kFloat64);
    for (size_t i = 0; i < rows.size(); ++i)
      for (size_t k = 0; k < rows[i].size(); ++k) t[i][k] = rows[i][k];
    return t;
  };
  for (const auto& c : doc.at("cases")) {
    const auto mu1 = torch::tensor(c.at("mu1").get<std::vector<double>>(), torch::kFloat64);
    const auto mu2 = torch::tensor(c.at("mu2").get<std::vector<double>>(), torch::kFloat64);
    const double fd = frechet_distance(mu1, matrix(c.at("sigma1")), mu2, matrix(c.at("sigma2")));
    EXPECT_NEAR(fd, c.at("fid").get<double>(), 1e-9);
  }
}

TEST(Frechet, ScipyReferences) {
  for (const char* name : {"frechet_d64.npz", "frechet_d256.npz"}) {
    const auto a = read_npz(test::vector_path(name));
    const double fd = frechet_distance(to_tensor(a.at("mu1")), to_tensor(a.at("sigma1")), to_tensor(a.at("mu2")),
                                       to_tensor(a.at("sigma2")));
    const double want = a.at("fid").to_doubles()[0];
    EXPECT_NEAR(fd, want, 1e-9 * std::max(1.0, std::abs(want))) << name;
  }
}

// Two independent rank-deficient sets (n < D): finite, positive, symmetric in its arguments.
TEST(Frechet, RankDeficientIndependentSets) {
  const auto s1 = compute_statistics(random_features(100, 256, 7), 1);
  const auto s2 = compute_statistics(random_features(60, 256, 8), 1);
  const double ab = frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma);
  const double ba = frechet_distance(s2.mu, s2.sigma, s1.mu, s1.sigma);
  EXPECT_TRUE(std::isfinite(ab));
  EXPECT_GT(ab, 0);
  EXPECT_NEAR(ab, ba, 1e-8 * ab);
}

// D = 2048 from n = 500 < D samples: rank-deficient. With S2 = c S1 the exact value is
// ||mu1 - mu2||^2 + tr(S1) (1 - sqrt(c))^2; identical statistics give ~0.
TEST(Frechet, RankDeficientAtFidWidth) {
  const auto x = random_features(500, 2048, 5).to(torch::kFloat64);
  const auto s1 = compute_statistics(x, 1);
  const double c = 2.25;
  const auto mu2 = s1.mu + 0.01;
  const double fd = frechet_distance(s1.mu, s1.sigma, mu2, s1.sigma * c);
  const double want = 2048 * 1e-4 + s1.sigma.trace().item<double>() * std::pow(1 - std::sqrt(c), 2);
  EXPECT_NEAR(fd, want, 1e-5 * want);  // null-space eigenvalues of M are rounding noise
  const double same = frechet_distance(s1.mu, s1.sigma, s1.mu, s1.sigma);
  EXPECT_NEAR(same, 0.0, 1e-6 * s1.sigma.trace().item<double>());
}

// Statistics are checked before a distance (issue 17: no silent garbage): a rank-deficient covariance
// stored as float32 passes; NaN, an asymmetric or an indefinite sigma is refused naming its file,
// through the library and `cmbench frechet` (exit 2).
TEST(Frechet, StatisticsAreCheckedFirst) {
  const auto good = compute_statistics(random_features(500, 2048, 5), 1);
  FeatureStatistics rounded = good;
  rounded.sigma = good.sigma.to(torch::kFloat32).to(torch::kFloat64);
  EXPECT_NO_THROW(check_statistics(rounded.mu, rounded.sigma, "f32.npz"));
  EXPECT_NEAR(frechet_distance(good, "a.npz", rounded, "f32.npz"), 0.0, 1e-6 * good.sigma.trace().item<double>());

  const auto small = compute_statistics(random_features(40, 8, 4), 1);
  const auto refused = [&](const torch::Tensor& mu, const torch::Tensor& sigma) {
    FeatureStatistics bad = small;
    bad.mu = mu;
    bad.sigma = sigma;
    return test::input_error_message([&] { frechet_distance(small, "a.npz", bad, "b.npz"); });
  };
  auto nan_sigma = small.sigma.clone();
  nan_sigma[2][3] = std::nan("");
  EXPECT_EQ(refused(small.mu, nan_sigma), "b.npz: statistics hold NaN or inf values");
  auto inf_mu = small.mu.clone();
  inf_mu[0] = INFINITY;
  EXPECT_EQ(refused(inf_mu, small.sigma), "b.npz: statistics hold NaN or inf values");
  auto asymmetric = small.sigma.clone();
  asymmetric[0][1] += 0.5;
  EXPECT_NE(refused(small.mu, asymmetric).find("b.npz: sigma is not symmetric"), std::string::npos);
  auto indefinite = small.sigma.clone();
  indefinite[0][0] = -1.0;  // a negative variance: some eigenvalue is at most -1
  EXPECT_NE(refused(small.mu, indefinite).find("b.npz: sigma is not positive semi-definite"), std::string::npos)
      << refused(small.mu, indefinite);

  test::TempDir dir;
  write_statistics(dir.file("a.npz"), small);
  write_npz(dir.file("bad.npz"), {{"mu", from_tensor(small.mu)}, {"sigma", from_tensor(indefinite)}});
  const auto ok = test::run_cli({"frechet", dir.file("a.npz"), dir.file("a.npz")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  const auto cli = test::run_cli({"frechet", dir.file("a.npz"), dir.file("bad.npz")});
  EXPECT_EQ(cli.exit_code, 2) << cli.err;
  EXPECT_NE(cli.err.find(dir.file("bad.npz") + ": sigma is not positive semi-definite"), std::string::npos) << cli.err;
}

}  // namespace
}  // namespace cmbench
