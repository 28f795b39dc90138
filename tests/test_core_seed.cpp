#include <gtest/gtest.h>

#include <set>

#include "core/rng.h"
#include "core/seed.h"

using namespace cmbench;

TEST(Seed, KnownValuesPinTheDerivation) {
  // fnv1a64 of the empty string and of "a" are the published FNV-1a test values.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  // splitmix64(0) is the first output of the reference SplitMix64 generator seeded with 0.
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
}

TEST(Seed, StreamsAreDistinctAndStable) {
  std::set<uint64_t> seen;
  for (const char* name : {"init", "noise", "data", "flip", "pool", "dropout"}) {
    for (uint64_t index = 0; index < 4; ++index) {
      EXPECT_TRUE(seen.insert(derive_seed(42, name, index)).second) << name << index;
      EXPECT_EQ(derive_seed(42, name, index), derive_seed(42, name, index));
    }
  }
  EXPECT_NE(derive_seed(1, "init"), derive_seed(2, "init"));
}

TEST(Seed, GeneratorsReproduce) {
  auto a = make_generator(7, "noise", 3);
  auto b = make_generator(7, "noise", 3);
  auto c = make_generator(7, "noise", 4);
  const auto x = torch::randn({16}, a);
  EXPECT_TRUE(torch::equal(x, torch::randn({16}, b)));
  EXPECT_FALSE(torch::equal(x, torch::randn({16}, c)));
}

TEST(Seed, GlobalSeedingAndStateReplay) {
  seed_global_generators(11);
  const auto first = torch::rand({8});
  seed_global_generators(11);
  EXPECT_TRUE(torch::equal(first, torch::rand({8})));

  auto gen = default_generator(torch::kCPU);
  const auto state = generator_state(gen);
  const auto drop1 = torch::dropout(torch::ones({64}), 0.5, true);
  set_generator_state(gen, state);
  const auto drop2 = torch::dropout(torch::ones({64}), 0.5, true);
  EXPECT_TRUE(torch::equal(drop1, drop2));
}
