// Published CIFAR-10 values (METRICS.md §6; issue 14): torch-fidelity's train-5k vs test-5k FID and
// IS vectors, torch-fidelity's IS of the whole train set, and the official TF code's (TTUR's) FID of
// train (50k) against test (10k). They need the real FID Inception weights ($CMBENCH_INCEPTION:
// NVIDIA's .pt or pytorch-fid's weights as .npz) and the CIFAR-10 data; the first takes about 20 CPU
// minutes, the two full-set ones about an hour each on 2 cores, so all are skipped (saying so)
// unless the weights are present.
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

// The real weights and CIFAR-10, or the reason they are missing (the test then skips with it).
struct PublishedInputs {
  std::string weights, skip_reason;
  std::unique_ptr<ImageSource> train, test_split;
};

PublishedInputs published_inputs() {
  PublishedInputs in;
  in.weights = weights_or_skip_reason();
  if (in.weights.empty()) {
    std::cout << "[ SKIPPED  ] published vectors: set CMBENCH_INCEPTION to the FID Inception weights to run them"
              << std::endl;
    in.skip_reason = "CMBENCH_INCEPTION is not set (real FID Inception weights needed)";
    return in;
  }
  try {
    in.train = open_image_source("cifar10:train");
    in.test_split = open_image_source("cifar10:test");
  } catch (const InputError& e) {
    in.skip_reason = std::string("CIFAR-10 is not available (") + e.what() + "); run `cmbench data fetch cifar10`";
  }
  return in;
}

std::vector<int64_t> all_indices(const ImageSource& source) {
  std::vector<int64_t> out(static_cast<size_t>(source.size()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(i);
  return out;
}

TEST(PublishedVectors, TorchFidelityCifar10FidAndIs) {
  auto in = published_inputs();
  if (!in.skip_reason.empty()) GTEST_SKIP() << in.skip_reason;
  const auto& weights = in.weights;
  auto& train = in.train;
  auto& test_split = in.test_split;
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

// torch-fidelity's README: IS of the 50k train images, predictions shuffled with seed 2020 before
// the 10 splits: 11.23678 +- 0.09514061 (published to 5 and 8 digits; 1e-3 allows float32 feature noise).
TEST(PublishedVectors, TorchFidelityCifar10TrainInceptionScore) {
  auto in = published_inputs();
  if (!in.skip_reason.empty()) GTEST_SKIP() << in.skip_reason;
  auto detector = make_detector(DetectorOptions().weights(in.weights));
  const auto out = extract_all_features(*in.train, all_indices(*in.train), *detector,
                                        ExtractionOptions().batch(100).with_logits(true));
  const auto score = inception_score_from_logits(out.logits_unbiased, 10, 2020u);
  std::cout << "IS of the 50k train images: " << score.mean << " +- " << score.std << " (published 11.23678 +- 0.09514061)"
            << std::endl;
  EXPECT_NEAR(score.mean, 11.23678, 1e-3);
  EXPECT_NEAR(score.std, 0.09514061, 1e-3);
}

// The official TF code (bioinf-jku/TTUR): FID of CIFAR-10 train (50k) against test (10k), 3.1508
// (published to 4 decimals; 2e-3 allows its float32 activations and scipy's sqrtm).
TEST(PublishedVectors, TfCodeCifar10TrainVsTestFid) {
  auto in = published_inputs();
  if (!in.skip_reason.empty()) GTEST_SKIP() << in.skip_reason;
  auto detector = make_detector(DetectorOptions().weights(in.weights));
  const auto options = ExtractionOptions().batch(100);
  const auto train = image_statistics(*in.train, all_indices(*in.train), *detector, options, 1);
  const auto test_split = image_statistics(*in.test_split, all_indices(*in.test_split), *detector, options, 1);
  const double fid = frechet_distance(train.mu, train.sigma, test_split.mu, test_split.sigma);
  std::cout << "FID train 50k vs test 10k: " << fid << " (published 3.1508)" << std::endl;
  EXPECT_NEAR(fid, 3.1508, 2e-3);
}

}  // namespace
}  // namespace cmbench
