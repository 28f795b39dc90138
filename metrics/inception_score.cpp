#include "metrics/inception_score.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/numpy_random.h"

namespace cmbench {

namespace {

InceptionScore score_splits(const torch::Tensor& probs, const torch::Tensor& log_probs, int64_t splits) {
  const int64_t n = probs.size(0);
  if (splits <= 0) throw InputError(fmt::format("Inception Score: --splits must be positive, got {}", splits));
  if (n < splits) throw InputError(fmt::format("Inception Score: {} images are fewer than {} splits", n, splits));
  std::vector<double> scores;
  for (int64_t k = 0; k < splits; ++k) {
    const int64_t begin = k * n / splits, end = (k + 1) * n / splits;
    const auto p = probs.slice(0, begin, end);
    const auto log_p = log_probs.slice(0, begin, end);
    const auto log_marginal = torch::log(p.mean(0, /*keepdim=*/true));
    // p (log p - log mean p), with 0 log 0 = 0.
    const auto kl = torch::where(p > 0, p * (log_p - log_marginal), torch::zeros_like(p)).sum(1);
    scores.push_back(std::exp(kl.mean().item<double>()));
  }
  InceptionScore result;
  for (double s : scores) result.mean += s;
  result.mean /= static_cast<double>(scores.size());
  for (double s : scores) result.std += (s - result.mean) * (s - result.mean);
  result.std = std::sqrt(result.std / static_cast<double>(scores.size()));
  return result;
}

}  // namespace

InceptionScore inception_score_from_probs(const torch::Tensor& probs, int64_t splits) {
  if (probs.dim() != 2) throw InputError("Inception Score: probabilities must be (N, K)");
  const auto p = probs.to(torch::kCPU, torch::kFloat64);
  return score_splits(p, torch::log(p), splits);
}

InceptionScore inception_score_from_logits(const torch::Tensor& logits, int64_t splits,
                                           std::optional<uint32_t> shuffle_seed) {
  if (logits.dim() != 2) throw InputError("Inception Score: logits must be (N, K)");
  auto x = logits.to(torch::kCPU, torch::kFloat64);
  if (shuffle_seed) {
    const auto perm = NumpyRandomState(*shuffle_seed).permutation(x.size(0));
    x = x.index_select(0, torch::tensor(perm, torch::kInt64));
  }
  const auto log_p = torch::log_softmax(x, 1);
  return score_splits(log_p.exp(), log_p, splits);
}

}  // namespace cmbench
