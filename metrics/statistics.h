// Gaussian feature statistics and their .npz files (METRICS.md §3): float64 `mu` (D,), `sigma`
// (D, D), int64 `n`, and `meta` (uint8 UTF-8 JSON). Files with only mu and sigma (EDM's,
// pytorch-fid's) are read too.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

namespace cmbench {

struct FeatureStatistics {
  torch::Tensor mu;     // float64 (D,)
  torch::Tensor sigma;  // float64 (D, D)
  int64_t n = -1;       // number of feature vectors; -1 when the file does not say
  nlohmann::json meta = nlohmann::json::object();
};

// InputError naming the file for a missing key, wrong rank or shape, or non-finite values. Other
// statistics of the same file are under other keys (mu_s and sigma_s: sFID's, as guided-diffusion's
// reference batches hold them); `n` and `meta` are shared.
FeatureStatistics read_statistics(const std::string& path, const std::string& mu_key = "mu",
                                  const std::string& sigma_key = "sigma");
void write_statistics(const std::string& path, const FeatureStatistics& stats);  // atomic
// Several statistics in one file (`mu_key` -> stats written as mu_key, sigma_key); n and meta from the first.
struct NamedStatistics {
  std::string mu_key, sigma_key;
  const FeatureStatistics* stats;
};
void write_statistics(const std::string& path, const std::vector<NamedStatistics>& all);  // atomic

// Streaming float64 accumulation of mu and sigma (METRICS.md §3): sum(x) and sum(x x^T), so that
// 50k+ feature vectors never sit in memory at once.
class StatisticsAccumulator {
 public:
  void add(const torch::Tensor& features);  // (n, D), any floating dtype
  int64_t count() const { return n_; }
  // sigma = (sum(x x^T) - n mu mu^T) / (n - ddof). InputError when n <= ddof; warns when n < 2048
  // and D == 2048 (rank-deficient covariance).
  FeatureStatistics finish(int ddof = 1) const;

 private:
  torch::Tensor sum_, sum_outer_;  // float64
  int64_t n_ = 0;
};

// One-shot statistics of a feature matrix (same formula).
FeatureStatistics compute_statistics(const torch::Tensor& features, int ddof = 1);

// True when `path` is an .npz holding both `mu` and `sigma`.
bool is_statistics_file(const std::string& path);

}  // namespace cmbench
