// KID (torch-fidelity) and improved precision/recall (guided-diffusion's evaluator, StyleGAN2-ADA's
// pr50k3) against the reference vectors of tests/data/kid_pr (README.md there says how they were
// made): KID mean, std and every subset to 1e-9 relative, precision/recall counts and the radii
// bit for bit; bad inputs; block sizes that change memory but never results.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "core/numpy_random.h"
#include "metrics/kid.h"
#include "metrics/precision_recall.h"
#include "test_util.h"

namespace cmbench {
namespace {

NpzMap vectors(const std::string& name) { return read_npz(test::source_path("tests/data/kid_pr/" + name + ".npz")); }

double scalar(const NpzMap& a, const std::string& key) {
  const auto values = a.at(key).to_doubles();
  EXPECT_EQ(values.size(), 1u) << key;
  return values.at(0);
}

// The features of make_vectors.py: float32(numpy RandomState(seed).standard_normal((n, d)), |.| if
// `absolute`, times scale, plus shift, the first big_rows rows times big_scale), in float64 until the cast.
torch::Tensor regenerate(const NpzMap& a, const std::string& prefix) {
  auto get = [&](const std::string& k) { return scalar(a, prefix + "_" + k); };
  const auto n = static_cast<int64_t>(get("n")), d = static_cast<int64_t>(get("d"));
  NumpyRandomState rng(static_cast<uint32_t>(get("seed")));
  std::vector<double> values(static_cast<size_t>(n * d));
  for (auto& v : values) v = rng.gauss();
  auto g = torch::tensor(values, torch::kFloat64).view({n, d});
  if (get("absolute") != 0) g = g.abs();
  g = g * get("scale");
  g = g + get("shift");
  const auto big = static_cast<int64_t>(get("big_rows"));
  if (big > 0) g.slice(0, 0, big).mul_(get("big_scale"));
  auto x = g.to(torch::kFloat32);
  // The generator check: the first row bit for bit, the sum to rounding.
  EXPECT_TRUE(torch::equal(x[0], to_tensor(a.at(prefix + "_row0")))) << prefix;
  const double sum = get("sum");
  EXPECT_NEAR(x.to(torch::kFloat64).sum().item<double>(), sum, 1e-9 * std::max(1.0, std::abs(sum))) << prefix;
  return x;
}

void expect_relative(double got, double want, double rtol, const std::string& what) {
  EXPECT_NEAR(got, want, rtol * std::abs(want)) << what;
}

TEST(Kid, MatchesTorchFidelity) {
  for (const char* name : {"kid_d64", "kid_default", "kid_d2048"}) {
    const auto a = vectors(name);
    const auto x = regenerate(a, "a"), y = regenerate(a, "b");
    const auto options = KidOptions()
                             .subsets(static_cast<int64_t>(scalar(a, "subsets")))
                             .subset_size(static_cast<int64_t>(scalar(a, "subset_size")))
                             .seed(static_cast<int64_t>(scalar(a, "rng_seed")));
    const auto r = kernel_inception_distance(x, y, options);
    expect_relative(r.mean, scalar(a, "kid_mean"), 1e-9, std::string(name) + " mean");
    expect_relative(r.std, scalar(a, "kid_std"), 1e-9, std::string(name) + " std");
    const auto mmds = a.at("kid_mmds").to_doubles();
    ASSERT_EQ(r.subsets.size(), mmds.size()) << name;
    for (size_t i = 0; i < mmds.size(); ++i) expect_relative(r.subsets[i], mmds[i], 1e-9, std::string(name) + " subset");
    // torch-fidelity on the float32 features themselves (its usual input) rounds its kernels to
    // float32: about 1e-6 relative on the mean, 1e-4 on the std, here.
    expect_relative(r.mean, scalar(a, "kid_mean_float32_inputs"), 1e-5, std::string(name) + " float32 reference");
  }
}

TEST(Kid, DefaultsAreTorchFidelitys) {
  const KidOptions o;
  EXPECT_EQ(o.subsets(), 100);
  EXPECT_EQ(o.subset_size(), 1000);
  EXPECT_EQ(o.degree(), 3);
  EXPECT_EQ(o.coef0(), 1.0);
  EXPECT_EQ(o.seed(), 2020);
}

TEST(Kid, Mmd2UnbiasedFormula) {
  // m = 2: off-diagonal sums 2 * 3 and 2 * 5 over m (m - 1) = 2, minus 2 * sum(K_XY) / 4.
  const auto kxx = torch::tensor({1.0, 3.0, 3.0, 1.0}, torch::kFloat64).view({2, 2});
  const auto kyy = torch::tensor({7.0, 5.0, 5.0, 7.0}, torch::kFloat64).view({2, 2});
  const auto kxy = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kFloat64).view({2, 2});
  EXPECT_DOUBLE_EQ(mmd2_unbiased(kxx, kxy, kyy), (6.0 + 10.0) / 2.0 - 2.0 * 10.0 / 4.0);
}

TEST(Kid, BadInputs) {
  auto gen = at::detail::createCPUGenerator(3);
  const auto x = torch::randn({20, 4}, gen);
  const auto small = KidOptions().subsets(2).subset_size(10);
  EXPECT_NO_THROW(kernel_inception_distance(x, x, small));
  EXPECT_THROW(kernel_inception_distance(x, torch::randn({20, 5}, gen), small), InputError);  // widths differ
  EXPECT_THROW(kernel_inception_distance(x, x.slice(0, 0, 9), small), InputError);           // subset > N
  EXPECT_THROW(kernel_inception_distance(x, x, KidOptions().subset_size(1)), InputError);
  EXPECT_THROW(kernel_inception_distance(x, x, KidOptions().subsets(0).subset_size(10)), InputError);
  EXPECT_THROW(kernel_inception_distance(x, x, KidOptions().subset_size(10).seed(-1)), InputError);
  EXPECT_THROW(kernel_inception_distance(x.flatten(), x, small), InputError);
  auto bad = x.clone();
  bad[3][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(kernel_inception_distance(x, bad, small), InputError);
  const auto message = test::input_error_message([&] { kernel_inception_distance(x, x, KidOptions()); });
  EXPECT_NE(message.find("subset size 1000"), std::string::npos) << message;
}

void expect_pr(const NpzMap& a, const PrecisionRecallResult& r, const std::string& name) {
  EXPECT_EQ(r.precision_count, static_cast<int64_t>(scalar(a, "precision_count"))) << name;
  EXPECT_EQ(r.recall_count, static_cast<int64_t>(scalar(a, "recall_count"))) << name;
  EXPECT_EQ(r.precision, scalar(a, "precision")) << name;  // exact: the same count over the same n
  EXPECT_EQ(r.recall, scalar(a, "recall")) << name;
}

TEST(PrecisionRecall, MatchesGuidedDiffusion) {
  for (const char* name : {"pr_gd_d64", "pr_gd_d2048", "pr_gd_fallback"}) {
    const auto a = vectors(name);
    const auto ref = regenerate(a, "ref"), gen = regenerate(a, "gen");
    const auto options = PrecisionRecallOptions()
                             .protocol(PrProtocol::guided_diffusion)
                             .fallback_block(static_cast<int64_t>(scalar(a, "batch")));
    expect_pr(a, precision_recall(ref, gen, options), name);
    EXPECT_TRUE(torch::equal(manifold_radii(ref, options), to_tensor(a.at("radii_ref")))) << name;
    EXPECT_TRUE(torch::equal(manifold_radii(gen, options), to_tensor(a.at("radii_gen")))) << name;
  }
  // The fallback case does fall back in some blocks and not in others.
  EXPECT_GT(scalar(vectors("pr_gd_fallback"), "fallback_blocks"), 0);
}

TEST(PrecisionRecall, MatchesStyleGan2Ada) {
  for (const char* name : {"pr_sg_d64", "pr_sg_d2048"}) {
    const auto a = vectors(name);
    const auto ref = regenerate(a, "ref"), gen = regenerate(a, "gen");
    const auto options = PrecisionRecallOptions().protocol(PrProtocol::stylegan2_ada);
    const auto r = precision_recall(ref, gen, options);
    expect_pr(a, r, name);
    // StyleGAN2-ADA reports the float32 mean of the 0/1 predictions: the same fraction in float32.
    EXPECT_EQ(static_cast<float>(r.precision_count) / static_cast<float>(r.num_generated),
              static_cast<float>(scalar(a, "precision_float32")));
    EXPECT_EQ(static_cast<float>(r.recall_count) / static_cast<float>(r.num_reference),
              static_cast<float>(scalar(a, "recall_float32")));
    EXPECT_TRUE(torch::equal(manifold_radii(ref, options), to_tensor(a.at("radii_ref")))) << name;
    EXPECT_TRUE(torch::equal(manifold_radii(gen, options), to_tensor(a.at("radii_gen")))) << name;
  }
}

TEST(PrecisionRecall, DistanceFormulas) {
  const auto u = torch::tensor({3.0f, 4.0f, 1.0f, 0.0f}).view({2, 2});
  const auto v = torch::tensor({0.0f, 0.0f}).view({1, 2});
  const auto squared = torch::tensor({25.0f, 1.0f}).view({2, 1});
  EXPECT_TRUE(torch::equal(pr_pairwise_distances(u, v, PrProtocol::guided_diffusion), squared));
  EXPECT_TRUE(torch::equal(pr_pairwise_distances(u, v, PrProtocol::guided_diffusion, true), squared));
  EXPECT_TRUE(torch::equal(pr_pairwise_distances(u, v, PrProtocol::stylegan2_ada), squared.sqrt()));
  // float16 rounding: 1000.3 is 1000.5 in float16; its square overflows float16 (guided-diffusion then
  // recomputes the block in float32, StyleGAN2-ADA keeps Inf).
  const auto w = torch::tensor({1000.3f}).view({1, 1}), zero = torch::zeros({1, 1});
  EXPECT_TRUE(std::isinf(pr_pairwise_distances(w, zero, PrProtocol::guided_diffusion).item<float>()));
  EXPECT_EQ(pr_pairwise_distances(w, zero, PrProtocol::guided_diffusion, true).item<float>(), 1000.3f * 1000.3f);
  EXPECT_TRUE(std::isinf(pr_pairwise_distances(w, zero, PrProtocol::stylegan2_ada).item<float>()));
  const auto z = torch::tensor({100.3f}).view({1, 1});  // 100.3125 in float16; its square 10062.6 rounds to 10064
  EXPECT_EQ(pr_pairwise_distances(z, zero, PrProtocol::guided_diffusion).item<float>(), 10064.0f);
  EXPECT_EQ(pr_pairwise_distances(z, zero, PrProtocol::stylegan2_ada).item<float>(), 100.3125f);
}

TEST(PrecisionRecall, IdenticalSetsAreCovered) {
  auto gen = at::detail::createCPUGenerator(5);
  const auto x = torch::randn({60, 8}, gen);
  for (auto protocol : {PrProtocol::guided_diffusion, PrProtocol::stylegan2_ada}) {
    const auto r = precision_recall(x, x, PrecisionRecallOptions().protocol(protocol));
    EXPECT_EQ(r.precision, 1.0);
    EXPECT_EQ(r.recall, 1.0);
    EXPECT_EQ(r.num_reference, 60);
  }
}

// Blocks of 7 rows and columns (many partial blocks) give exactly the default's results, with and
// without guided-diffusion's float32 fallback (fallback blocks of 100 here; the first reference block
// holds 40 of the overflowing rows, so it falls back and the others do not).
TEST(PrecisionRecall, BlockSizeDoesNotChangeResults) {
  const auto a = vectors("pr_gd_fallback");
  const auto all_ref = regenerate(a, "ref"), gen = regenerate(a, "gen").slice(0, 0, 170);
  for (auto protocol : {PrProtocol::guided_diffusion, PrProtocol::stylegan2_ada}) {
    // StyleGAN2-ADA has no fallback: the overflowing rows would give Inf radii, so it gets normal rows.
    const auto ref = protocol == PrProtocol::guided_diffusion ? all_ref.slice(0, 60, 290) : all_ref.slice(0, 100, 330);
    const auto base = PrecisionRecallOptions().protocol(protocol).fallback_block(100);
    const auto small = PrecisionRecallOptions(base).block_size(7);
    const auto want = precision_recall(ref, gen, base);
    const auto got = precision_recall(ref, gen, small);
    EXPECT_EQ(got.precision_count, want.precision_count);
    EXPECT_EQ(got.recall_count, want.recall_count);
    EXPECT_GT(want.precision_count, 0);
    EXPECT_LT(want.precision_count, gen.size(0));
    EXPECT_GT(want.recall_count, 0);
    EXPECT_LT(want.recall_count, ref.size(0));
    EXPECT_TRUE(torch::equal(manifold_radii(ref, small), manifold_radii(ref, base)));
    EXPECT_TRUE(torch::equal(manifold_radii(gen, small), manifold_radii(gen, base)));
  }
}

// Manual: peak memory of a large run stays at the features plus a few blocks (never N x N).
// CMBENCH_PR_N rows per set (default 50000), CMBENCH_PR_D columns (default 64); run with
// --gtest_also_run_disabled_tests under /usr/bin/time -v.
TEST(PrecisionRecall, DISABLED_LargeRunMemory) {
  const char* n_env = std::getenv("CMBENCH_PR_N");
  const char* d_env = std::getenv("CMBENCH_PR_D");
  const int64_t n = n_env ? std::stoll(n_env) : 50000, d = d_env ? std::stoll(d_env) : 64;
  auto gen = at::detail::createCPUGenerator(9);
  const auto ref = torch::randn({n, d}, gen), fake = torch::randn({n, d}, gen) * 1.05;
  for (auto protocol : {PrProtocol::guided_diffusion, PrProtocol::stylegan2_ada}) {
    const auto r = precision_recall(ref, fake, PrecisionRecallOptions().protocol(protocol));
    std::printf("n %lld d %lld protocol %d precision %.6f recall %.6f\n", static_cast<long long>(n),
                static_cast<long long>(d), static_cast<int>(protocol), r.precision, r.recall);
  }
}

TEST(PrecisionRecall, BadInputs) {
  auto gen = at::detail::createCPUGenerator(4);
  const auto x = torch::randn({20, 4}, gen);
  EXPECT_NO_THROW(precision_recall(x, x.slice(0, 0, 4)));  // k + 1 = 4 rows suffice
  EXPECT_THROW(precision_recall(x, torch::randn({20, 5}, gen)), InputError);  // widths differ
  EXPECT_THROW(precision_recall(x, x.slice(0, 0, 3)), InputError);            // k >= N
  EXPECT_THROW(precision_recall(x.slice(0, 0, 3), x), InputError);
  EXPECT_THROW(precision_recall(x, x, PrecisionRecallOptions().k(20)), InputError);
  EXPECT_THROW(precision_recall(x, x, PrecisionRecallOptions().k(0)), InputError);
  EXPECT_THROW(precision_recall(x, x, PrecisionRecallOptions().block_size(0)), InputError);
  EXPECT_THROW(precision_recall(x, x, PrecisionRecallOptions().fallback_block(0)), InputError);
  EXPECT_THROW(precision_recall(x.flatten(), x), InputError);
  EXPECT_THROW(manifold_radii(x.slice(0, 0, 2)), InputError);
  auto bad = x.clone();
  bad[2][0] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(precision_recall(x, bad), InputError);
  bad[2][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(precision_recall(bad, x, PrecisionRecallOptions().protocol(PrProtocol::stylegan2_ada)), InputError);
}

}  // namespace
}  // namespace cmbench
