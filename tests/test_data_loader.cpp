// The deterministic loader: order, remainder policy, flips, subsets, resume, prefetch equivalence.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "data/image_source.h"
#include "data/loader.h"
#include "test_util.h"

namespace cmbench {
namespace {

std::shared_ptr<const ImageSource> fixture(const test::TempDir& dir, int64_t n = 10) {
  // Image i has every R byte equal to i and a left-right ramp in G, so flips and order are visible.
  auto images = torch::zeros({n, 2, 3, 3}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    images[i].select(2, 0).fill_(i);
    for (int64_t x = 0; x < 3; ++x) images[i].select(1, x).select(1, 1).fill_(10 * x);
  }
  const auto labels = torch::arange(n, torch::kInt64).remainder(3);
  write_npz(dir.file("fixture.npz"), {{"images", from_tensor(images)}, {"labels", from_tensor(labels)}});
  return open_image_source(dir.file("fixture.npz"));
}

std::vector<int64_t> indices_of(const Batch& b) {
  return std::vector<int64_t>(b.indices.data_ptr<int64_t>(), b.indices.data_ptr<int64_t>() + b.indices.numel());
}

// x / 127.5 - 1 in float32, channels moved first: 0 -> -1, 255 -> 1, and what float32 gives between.
TEST(DataLoader, NetworkRangeIsNchwInMinusOneToOne) {
  const auto images = torch::arange(0, 2 * 2 * 4 * 3, torch::kInt64).mul_(5).remainder_(256).to(torch::kUInt8).view({2, 2, 4, 3});
  images[1][1][3][2] = 255;  // and images[0][0][0][0] is 0
  const auto x = to_network_range(images);
  EXPECT_EQ(x.sizes(), torch::IntArrayRef({2, 3, 2, 4}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat32);
  EXPECT_EQ(x.min().item<float>(), -1.0f);
  EXPECT_EQ(x.max().item<float>(), 1.0f);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t y = 0; y < 2; ++y)
      for (int64_t w = 0; w < 4; ++w)
        for (int64_t c = 0; c < 3; ++c) {
          const float expected = static_cast<float>(images[n][y][w][c].item<uint8_t>()) / 127.5f - 1.0f;
          EXPECT_FLOAT_EQ(x[n][c][y][w].item<float>(), expected) << n << y << w << c;
        }
  EXPECT_THROW(to_network_range(images.to(torch::kFloat32)), std::invalid_argument);
}

TEST(DataLoader, EveryEpochIsAPermutationAndBatchesSpanEpochs) {
  test::TempDir dir;
  LoaderOptions options;
  options.batch_size = 4;
  options.seed = 123;
  DataLoader loader(fixture(dir), options);
  std::vector<int64_t> stream;
  for (int step = 0; step < 5; ++step) {
    const Batch b = loader.next();
    EXPECT_EQ(b.step, step);
    EXPECT_EQ(b.images.sizes(), torch::IntArrayRef({4, 3, 2, 3}));
    EXPECT_EQ(b.images.scalar_type(), torch::kFloat32);
    const auto idx = indices_of(b);
    stream.insert(stream.end(), idx.begin(), idx.end());
    // Pixels and labels follow the indices; R = index, scaled to [-1, 1].
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_FLOAT_EQ(b.images[j][0][0][0].item<float>(), static_cast<float>(idx[j] / 127.5 - 1.0));
      EXPECT_EQ(b.labels[j].item<int64_t>(), idx[j] % 3);
    }
  }
  ASSERT_EQ(stream.size(), 20u);
  const std::set<int64_t> first(stream.begin(), stream.begin() + 10), second(stream.begin() + 10, stream.end());
  EXPECT_EQ(first.size(), 10u);
  EXPECT_EQ(second.size(), 10u);
  EXPECT_NE(std::vector<int64_t>(stream.begin(), stream.begin() + 10), std::vector<int64_t>(stream.begin() + 10, stream.end()));
}

TEST(DataLoader, SameSeedSameBatchesOtherSeedOthers) {
  test::TempDir dir;
  const auto source = fixture(dir, 50);
  LoaderOptions options;
  options.batch_size = 8;
  options.flip = true;
  DataLoader a(source, options), b(source, options);
  options.seed = 1;
  DataLoader c(source, options);
  bool any_difference = false;
  for (int step = 0; step < 10; ++step) {
    const Batch x = a.next(), y = b.next(), z = c.next();
    EXPECT_TRUE(torch::equal(x.images, y.images));
    EXPECT_TRUE(torch::equal(x.indices, y.indices));
    any_difference = any_difference || !torch::equal(x.indices, z.indices);
  }
  EXPECT_TRUE(any_difference);
  // Pinned against an independent Python transcription of splitmix64 + Fisher-Yates: the order does
  // not depend on the machine or the LibTorch version.
  EXPECT_EQ(seeded_permutation(8, 42), (std::vector<int64_t>{7, 4, 1, 2, 5, 6, 0, 3}));
}

TEST(DataLoader, ResumeAtStepKContinuesTheSequence) {
  test::TempDir dir;
  const auto source = fixture(dir, 23);
  LoaderOptions options;
  options.batch_size = 5;
  options.flip = true;
  options.seed = 9;
  DataLoader full(source, options);
  std::vector<Batch> batches;
  for (int step = 0; step < 12; ++step) batches.push_back(full.next());
  for (const int prefetch : {0, 3}) {
    options.prefetch = prefetch;
    DataLoader resumed(source, options, 7);
    for (int step = 7; step < 12; ++step) {
      const Batch b = resumed.next();
      EXPECT_EQ(b.step, step);
      EXPECT_TRUE(torch::equal(b.indices, batches[step].indices));
      EXPECT_TRUE(torch::equal(b.images, batches[step].images));
      EXPECT_TRUE(torch::equal(b.labels, batches[step].labels));
    }
  }
}

TEST(DataLoader, FlipsMirrorAboutHalfTheImages) {
  test::TempDir dir;
  const auto source = fixture(dir, 10);
  LoaderOptions options;
  options.batch_size = 10;
  options.shuffle = false;
  options.flip = false;
  const Batch reference = DataLoader(source, options).next();
  options.flip = true;
  DataLoader loader(source, options);
  int flipped = 0, total = 0;
  for (int step = 0; step < 20; ++step) {
    const Batch b = loader.next();
    for (int64_t j = 0; j < 10; ++j, ++total) {
      const float left = b.images[j][1][0][0].item<float>();
      const float right = b.images[j][1][0][2].item<float>();
      if (left > right) ++flipped;
      EXPECT_FLOAT_EQ(std::max(left, right), static_cast<float>(20 / 127.5 - 1.0));
      // Each image is the original or its exact mirror image (CHW: width is dimension 2).
      const auto& original = reference.images[j];
      EXPECT_TRUE(torch::equal(b.images[j], left > right ? original.flip({2}) : original)) << step << " " << j;
    }
  }
  EXPECT_GT(flipped, total / 4);
  EXPECT_LT(flipped, 3 * total / 4);
  options.flip = false;
  DataLoader plain(source, options);
  const Batch b = plain.next();
  EXPECT_TRUE(torch::equal(b.indices, torch::arange(10, torch::kInt64)));
  EXPECT_TRUE((b.images.select(1, 1).select(2, 0) < b.images.select(1, 1).select(2, 2)).all().item<bool>());
}

// A data-parallel rank's shard: rows [begin, end) of every batch, flips included, with the labels of
// the whole batch beside its own; shards outside the batch are refused.
TEST(DataLoader, ShardsAreRowsOfTheWholeBatch) {
  test::TempDir dir;
  const auto source = fixture(dir, 10);
  LoaderOptions options;
  options.batch_size = 6;
  options.flip = true;
  DataLoader whole(source, options);
  options.shard_begin = 2;
  options.shard_end = 5;
  DataLoader shard(source, options);
  for (int step = 0; step < 4; ++step) {
    const Batch a = whole.next(), b = shard.next();
    EXPECT_TRUE(torch::equal(b.indices, a.indices.narrow(0, 2, 3))) << step;
    EXPECT_TRUE(torch::equal(b.images, a.images.narrow(0, 2, 3))) << step;
    EXPECT_TRUE(torch::equal(b.labels, a.labels.narrow(0, 2, 3))) << step;
    EXPECT_TRUE(torch::equal(b.batch_labels, a.labels)) << step;
    EXPECT_TRUE(torch::equal(a.batch_labels, a.labels)) << step;
  }
  for (const auto& [begin, end] : std::vector<std::pair<int64_t, int64_t>>{{3, 3}, {-1, 2}, {4, 7}}) {
    options.shard_begin = begin;
    options.shard_end = end;
    EXPECT_THROW(DataLoader(source, options), InputError) << begin << " " << end;
  }
}

TEST(DataLoader, Subsets) {
  test::TempDir dir;
  const auto source = fixture(dir, 30);
  LoaderOptions options;
  options.batch_size = 4;
  options.subset = 6;
  DataLoader first(source, options);
  EXPECT_EQ(first.pool(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  for (int step = 0; step < 6; ++step) {
    for (const int64_t i : indices_of(first.next())) EXPECT_LT(i, 6);
  }
  options.subset_random = true;
  DataLoader sample(source, options), again(source, options);
  EXPECT_EQ(sample.pool(), again.pool());
  EXPECT_EQ(sample.pool().size(), 6u);
  EXPECT_TRUE(std::is_sorted(sample.pool().begin(), sample.pool().end()));
  EXPECT_NE(sample.pool(), first.pool());
  options.subset = 31;
  EXPECT_THROW((DataLoader{source, options}), InputError);
}

TEST(DataLoader, ReaderErrorsReachTheCaller) {
  test::TempDir dir;
  auto images = torch::zeros({4, 2, 2, 3}, torch::kUInt8);
  write_npy(dir.file("a.npy"), from_tensor(images));
  std::shared_ptr<const ImageSource> source = open_image_source(dir.file("a.npy"));
  std::filesystem::resize_file(dir.file("a.npy"), 100);  // truncated after opening
  LoaderOptions options;
  options.batch_size = 2;
  DataLoader loader(source, options);
  EXPECT_THROW(loader.next(), InputError);
}

}  // namespace
}  // namespace cmbench
