// Inception Score (METRICS.md §4): softmax of the unbiased logits over all 1008 outputs, 10
// contiguous splits, exp(mean KL(p || mean p)) per split, mean and population std over splits.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace cmbench {

struct InceptionScore {
  double mean = 0.0;
  double std = 0.0;  // population (ddof 0) over splits
};

// probs: (N, K) class probabilities (rows sum to 1), computed in float64. split k is rows
// [k N / splits, (k + 1) N / splits). InputError when N < splits.
InceptionScore inception_score_from_probs(const torch::Tensor& probs, int64_t splits = 10);

// logits: (N, K) unbiased logits. With a shuffle seed, rows are first reordered as
// p'[i] = p[perm[i]], perm = numpy RandomState(seed).permutation(N) (torch-fidelity uses 2020).
InceptionScore inception_score_from_logits(const torch::Tensor& logits, int64_t splits = 10,
                                           std::optional<uint32_t> shuffle_seed = std::nullopt);

}  // namespace cmbench
