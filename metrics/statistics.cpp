#include "metrics/statistics.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "core/npy.h"
#include "core/npy_torch.h"

namespace cmbench {

FeatureStatistics read_statistics(const std::string& path, const std::string& mu_key, const std::string& sigma_key) {
  const auto keys = npz_keys(path);
  auto has = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  for (const auto& k : {mu_key, sigma_key}) {
    if (!has(k)) throw InputError(fmt::format("{}: not a statistics file: missing array '{}'", path, k));
  }
  std::vector<std::string> wanted = {mu_key, sigma_key};
  if (has("n")) wanted.push_back("n");
  if (has("meta")) wanted.push_back("meta");
  const auto arrays = read_npz(path, wanted);
  FeatureStatistics stats;
  const auto& mu = arrays.at(mu_key);
  const auto& sigma = arrays.at(sigma_key);
  if (mu.dtype != DType::f64 && mu.dtype != DType::f32) {
    throw InputError(fmt::format("{}: '{}' must be float64 or float32, found {}", path, mu_key, dtype_name(mu.dtype)));
  }
  if (sigma.dtype != DType::f64 && sigma.dtype != DType::f32) {
    throw InputError(
        fmt::format("{}: '{}' must be float64 or float32, found {}", path, sigma_key, dtype_name(sigma.dtype)));
  }
  if (mu.shape.size() != 1) {
    throw InputError(fmt::format("{}: '{}' must be 1-D, found shape {}", path, mu_key, mu.shape_string()));
  }
  const int64_t d = mu.shape[0];
  if (d == 0) throw InputError(fmt::format("{}: '{}' is empty (no feature dimensions)", path, mu_key));
  if (sigma.shape.size() != 2 || sigma.shape[0] != d || sigma.shape[1] != d) {
    throw InputError(fmt::format("{}: '{}' must have shape ({}, {}) to match '{}', found {}", path, sigma_key, d, d,
                                 mu_key, sigma.shape_string()));
  }
  stats.mu = to_tensor(mu).to(torch::kFloat64);
  stats.sigma = to_tensor(sigma).to(torch::kFloat64);
  if (!torch::isfinite(stats.mu).all().item<bool>() || !torch::isfinite(stats.sigma).all().item<bool>()) {
    throw InputError(fmt::format("{}: statistics contain NaN or Inf", path));
  }
  if (auto it = arrays.find("n"); it != arrays.end()) {
    const auto values = it->second.to_doubles();
    if (values.size() != 1) throw InputError(fmt::format("{}: 'n' must be a scalar", path));
    // 2^53: every count below it is exact as a double (and converts to int64_t without overflow).
    if (!(values[0] >= 0 && values[0] <= 9007199254740992.0) || values[0] != std::floor(values[0]))
      throw InputError(fmt::format("{}: 'n' = {} is not a count of feature vectors", path, values[0]));
    stats.n = static_cast<int64_t>(values[0]);
  }
  if (auto it = arrays.find("meta"); it != arrays.end()) {
    if (it->second.dtype != DType::u8) throw InputError(fmt::format("{}: 'meta' must be uint8 JSON text", path));
    const std::string text(it->second.bytes.begin(), it->second.bytes.end());
    stats.meta = nlohmann::json::parse(text, nullptr, false);
    if (stats.meta.is_discarded()) throw InputError(fmt::format("{}: 'meta' is not valid JSON", path));
  }
  return stats;
}

void write_statistics(const std::string& path, const FeatureStatistics& stats) {
  write_statistics(path, {{"mu", "sigma", &stats}});
}

void write_statistics(const std::string& path, const std::vector<NamedStatistics>& all) {
  if (all.empty()) throw std::logic_error("write_statistics: nothing to write");
  NpzMap arrays;
  for (const auto& named : all) {
    arrays[named.mu_key] = from_tensor(named.stats->mu.to(torch::kFloat64));
    arrays[named.sigma_key] = from_tensor(named.stats->sigma.to(torch::kFloat64));
  }
  const auto& stats = *all.front().stats;
  arrays["n"] = NpyArray::from<int64_t>({}, &stats.n);
  const std::string meta = stats.meta.dump();
  arrays["meta"] = NpyArray::from<uint8_t>({static_cast<int64_t>(meta.size())},
                                           reinterpret_cast<const uint8_t*>(meta.data()));
  write_npz(path, arrays);
}

void StatisticsAccumulator::add(const torch::Tensor& features) {
  if (features.dim() != 2) throw InputError("statistics: features must be (n, D)");
  const auto x = features.to(torch::kCPU, torch::kFloat64);
  if (!sum_.defined()) {
    sum_ = torch::zeros({x.size(1)}, torch::kFloat64);
    sum_outer_ = torch::zeros({x.size(1), x.size(1)}, torch::kFloat64);
  }
  if (x.size(1) != sum_.size(0)) {
    throw InputError(fmt::format("statistics: feature width {} differs from {} seen before", x.size(1), sum_.size(0)));
  }
  sum_ += x.sum(0);
  sum_outer_.addmm_(x.t(), x);
  n_ += x.size(0);
}

FeatureStatistics StatisticsAccumulator::finish(int ddof) const {
  if (ddof != 0 && ddof != 1) throw InputError(fmt::format("statistics: ddof must be 0 or 1, got {}", ddof));
  if (n_ <= ddof || !sum_.defined()) {
    throw InputError(fmt::format("statistics: {} feature vector(s) are too few for a covariance (ddof {})", n_, ddof));
  }
  if (n_ < 2048 && sum_.size(0) >= 2048) {
    spdlog::warn("statistics from {} images (< 2048): the covariance is rank-deficient and FID is biased; "
                 "use 50,000 images for reportable numbers", n_);
  }
  FeatureStatistics stats;
  stats.n = n_;
  stats.mu = sum_ / static_cast<double>(n_);
  auto sigma = (sum_outer_ - static_cast<double>(n_) * torch::outer(stats.mu, stats.mu)) / static_cast<double>(n_ - ddof);
  stats.sigma = (sigma + sigma.t()) * 0.5;
  stats.meta = {{"ddof", ddof}};
  return stats;
}

FeatureStatistics compute_statistics(const torch::Tensor& features, int ddof) {
  StatisticsAccumulator acc;
  acc.add(features);
  return acc.finish(ddof);
}

bool is_statistics_file(const std::string& path) {
  if (std::filesystem::path(path).extension() != ".npz" || !std::filesystem::is_regular_file(path)) return false;
  try {
    const auto keys = npz_keys(path);
    return std::find(keys.begin(), keys.end(), "mu") != keys.end() &&
           std::find(keys.begin(), keys.end(), "sigma") != keys.end();
  } catch (const Error&) {
    return false;
  }
}

}  // namespace cmbench
