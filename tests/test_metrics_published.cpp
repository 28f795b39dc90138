// torch-fidelity's published CIFAR-10 vectors (METRICS.md §6). They need the real FID Inception
// weights ($CMBENCH_INCEPTION: NVIDIA's .pt or pytorch-fid's weights as .npz), the CIFAR-10 data and
// about 20 CPU minutes, so they are skipped (saying so) unless the weights are present.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "core/error.h"
#include "core/npy.h"
#include "data/image_source.h"
#include "metrics/features.h"
#include "metrics/frechet.h"
#include "metrics/inception_score.h"
#include "test_util.h"

namespace cmbench {
namespace {

std::vector<int64_t> sorted_indices(const NpyArray& a) {
  std::vector<int64_t> out;
  for (double v : a.to_doubles()) out.push_back(static_cast<int64_t>(v));
  std::sort(out.begin(), out.end());
  return out;
}

std::string weights_or_skip_reason() {
  const char* w = std::getenv("CMBENCH_INCEPTION");
  return (w && *w) ? std::string(w) : std::string();
}

TEST(PublishedVectors, TorchFidelityCifar10FidAndIs) {
  const std::string weights = weights_or_skip_reason();
  if (weights.empty()) {
    std::cout << "[ SKIPPED  ] torch-fidelity vectors: set CMBENCH_INCEPTION to the FID Inception weights to run them"
              << std::endl;
    GTEST_SKIP() << "CMBENCH_INCEPTION is not set (real FID Inception weights needed)";
  }
  std::unique_ptr<ImageSource> train, test_split;
  try {
    train = open_image_source("cifar10:train");
    test_split = open_image_source("cifar10:test");
  } catch (const InputError& e) {
    GTEST_SKIP() << "CIFAR-10 is not available (" << e.what() << "); run `cmbench data fetch cifar10`";
  }
  const auto subsets = read_npz(test::vector_path("cifar10_subsets.npz"));
  auto detector = make_detector(DetectorOptions().weights(weights));
  const auto options = ExtractionOptions().batch(50);

  const auto stats_train = image_statistics(*train, sorted_indices(subsets.at("cifar10_train_5k_idx")), *detector, options, 1);
  const auto stats_test = image_statistics(*test_split, sorted_indices(subsets.at("cifar10_test_5k_idx")), *detector, options, 1);
  const double fid = frechet_distance(stats_train.mu, stats_train.sigma, stats_test.mu, stats_test.sigma);
  std::cout << "FID train 5k vs test 5k: " << fid << " (published 10.3233274)" << std::endl;
  EXPECT_NEAR(fid, 10.3233274, 1e-4);

  const auto out = extract_all_features(*train, sorted_indices(subsets.at("cifar10_train_100_idx")), *detector,
                                        ExtractionOptions().batch(50).with_logits(true));
  std::vector<int64_t> perm;
  for (double v : subsets.at("isc_shuffle_100").to_doubles()) perm.push_back(static_cast<int64_t>(v));
  const auto score = inception_score_from_logits(out.logits_unbiased.index_select(0, torch::tensor(perm)), 10);
  std::cout << "IS of 100 train images: " << score.mean << " (published 4.51089784587268)" << std::endl;
  EXPECT_NEAR(score.mean, 4.51089784587268, 1e-4);
}

}  // namespace
}  // namespace cmbench
