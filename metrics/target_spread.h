// Bias and variance of a training target's draws against a reference point, per noise-level bucket
// (issue 16's target statistics; the target_stats metric and `cmbench target-stats` both report it).
// For probe p with draws y_pm (m < M) and reference point y*_p, per dimension (D values per image):
//   variance_p = sum_m ||y_pm - ybar_p||^2 / ((M - 1) D)
//   bias2_p    = ||ybar_p - y*_p||^2 / D - variance_p / M      (unbiased for ||E y - y*||^2 / D)
// and each bucket's value the mean over its probes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace cmbench {

struct TargetSpread {
  std::vector<double> variance, bias2;  // per bucket
  std::vector<int64_t> probes;          // per bucket
  double mean_variance = 0, mean_bias2 = 0;  // over the buckets that hold probes
};

// draws (P, M, ...), reference (P, ...), bucket (P,) int64 in [0, buckets). InputError for M < 2 or
// mismatched shapes.
TargetSpread target_spread(const torch::Tensor& draws, const torch::Tensor& reference, const torch::Tensor& bucket,
                           int64_t buckets);

}  // namespace cmbench
