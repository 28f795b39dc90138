// numpy legacy RandomState compatibility: permutations, choice without replacement, EDM's subset rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/npy.h"
#include "core/numpy_random.h"
#include "test_util.h"

namespace cmbench {
namespace {

std::vector<int64_t> as_int64(const NpyArray& a) {
  std::vector<int64_t> out;
  for (double v : a.to_doubles()) out.push_back(static_cast<int64_t>(v));
  return out;
}

TEST(NumpyRandom, PermutationsMatchNumpy) {
  const auto arrays = read_npz(test::vector_path("numpy_random.npz"));
  ASSERT_EQ(arrays.size(), 9u);
  for (uint32_t seed : {0u, 1u, 2020u}) {
    for (int64_t n : {10, 1000, 50000}) {
      const auto key = "perm_seed" + std::to_string(seed) + "_n" + std::to_string(n);
      ASSERT_TRUE(arrays.count(key)) << key;
      EXPECT_EQ(NumpyRandomState(seed).permutation(n), as_int64(arrays.at(key))) << key;
    }
  }
}

TEST(NumpyRandom, ShuffleIsPermutationOfArange) {
  // EDM shuffles np.arange(count) in place: the same draws as permutation(count).
  std::vector<int64_t> values(1000);
  std::iota(values.begin(), values.end(), int64_t{0});
  NumpyRandomState(7).shuffle(values);
  EXPECT_EQ(values, NumpyRandomState(7).permutation(1000));
}

TEST(NumpyRandom, ChoiceWithoutReplacementMatchesTorchFidelitySubsets) {
  const auto arrays = read_npz(test::vector_path("cifar10_subsets.npz"));
  // A fresh RandomState(2020) per split, as torch-fidelity's tests draw them.
  EXPECT_EQ(NumpyRandomState(2020).choice_without_replacement(50000, 5000), as_int64(arrays.at("cifar10_train_5k_idx")));
  EXPECT_EQ(NumpyRandomState(2020).choice_without_replacement(10000, 5000), as_int64(arrays.at("cifar10_test_5k_idx")));
  EXPECT_EQ(NumpyRandomState(2020).permutation(100), as_int64(arrays.at("isc_shuffle_100")));
}

TEST(NumpyRandom, EdmSubsetRule) {
  const auto arrays = read_npz(test::vector_path("numpy_random.npz"));
  auto want = as_int64(arrays.at("perm_seed1_n1000"));
  want.resize(100);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(edm_subset_indices(1000, 100, 1), want);
  // seed mod 2^31: 2^31 + 1 selects the same subset as 1.
  EXPECT_EQ(edm_subset_indices(1000, 100, (int64_t{1} << 31) + 1), want);
  // All images: the identity, no shuffle.
  const auto all = edm_subset_indices(50, 50, 3);
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(all[static_cast<size_t>(i)], i);
  EXPECT_THROW(edm_subset_indices(10, 11, 0), InputError);
  EXPECT_THROW(edm_subset_indices(10, 0, 0), InputError);
}

TEST(NumpyRandom, RandintAndGaussAreDeterministicAndInRange) {
  NumpyRandomState a(5), b(5);
  for (int i = 0; i < 1000; ++i) {
    const auto v = a.randint(3, 29);
    EXPECT_GE(v, 3);
    EXPECT_LT(v, 29);
    EXPECT_EQ(v, b.randint(3, 29));
  }
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < 20000; ++i) {
    const double g = a.gauss();
    sum += g;
    sum_sq += g * g;
  }
  EXPECT_NEAR(sum / 20000, 0.0, 0.05);
  EXPECT_NEAR(sum_sq / 20000, 1.0, 0.05);
}

TEST(NumpyRandom, FirstDoublesOfSeedZero) {
  // numpy: np.random.RandomState(0).random_sample(2) = [0.5488135039273248, 0.7151893663724195]
  NumpyRandomState rng(0);
  EXPECT_DOUBLE_EQ(rng.next_double(), 0.5488135039273248);
  EXPECT_DOUBLE_EQ(rng.next_double(), 0.7151893663724195);
  // np.random.RandomState(0).standard_normal(2) = [1.764052345967664, 0.4001572083672233]
  NumpyRandomState g(0);
  EXPECT_DOUBLE_EQ(g.gauss(), 1.764052345967664);
  EXPECT_DOUBLE_EQ(g.gauss(), 0.4001572083672233);
  // np.random.RandomState(0).randint(3, 29, size=5) = [15, 18, 24, 3, 6]
  NumpyRandomState r(0);
  std::vector<int64_t> got;
  for (int i = 0; i < 5; ++i) got.push_back(r.randint(3, 29));
  EXPECT_EQ(got, (std::vector<int64_t>{15, 18, 24, 3, 6}));
}

}  // namespace
}  // namespace cmbench
