#include "metrics/statistics.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"

namespace cmbench {

FeatureStatistics read_statistics(const std::string& path) {
  const auto keys = npz_keys(path);
  auto has = [&](const char* k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  for (const char* k : {"mu", "sigma"}) {
    if (!has(k)) throw InputError(fmt::format("{}: not a statistics file: missing array '{}'", path, k));
  }
  std::vector<std::string> wanted = {"mu", "sigma"};
  if (has("n")) wanted.push_back("n");
  if (has("meta")) wanted.push_back("meta");
  const auto arrays = read_npz(path, wanted);
  FeatureStatistics stats;
  const auto& mu = arrays.at("mu");
  const auto& sigma = arrays.at("sigma");
  if (mu.dtype != DType::f64 && mu.dtype != DType::f32) {
    throw InputError(fmt::format("{}: 'mu' must be float64 or float32, found {}", path, dtype_name(mu.dtype)));
  }
  if (sigma.dtype != DType::f64 && sigma.dtype != DType::f32) {
    throw InputError(fmt::format("{}: 'sigma' must be float64 or float32, found {}", path, dtype_name(sigma.dtype)));
  }
  if (mu.shape.size() != 1) throw InputError(fmt::format("{}: 'mu' must be 1-D, found shape {}", path, mu.shape_string()));
  const int64_t d = mu.shape[0];
  if (sigma.shape.size() != 2 || sigma.shape[0] != d || sigma.shape[1] != d) {
    throw InputError(fmt::format("{}: 'sigma' must have shape ({}, {}) to match 'mu', found {}", path, d, d,
                                 sigma.shape_string()));
  }
  stats.mu = to_tensor(mu).to(torch::kFloat64);
  stats.sigma = to_tensor(sigma).to(torch::kFloat64);
  if (!torch::isfinite(stats.mu).all().item<bool>() || !torch::isfinite(stats.sigma).all().item<bool>()) {
    throw InputError(fmt::format("{}: statistics contain NaN or Inf", path));
  }
  if (auto it = arrays.find("n"); it != arrays.end()) {
    const auto values = it->second.to_doubles();
    if (values.size() != 1) throw InputError(fmt::format("{}: 'n' must be a scalar", path));
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
  NpzMap arrays;
  arrays["mu"] = from_tensor(stats.mu.to(torch::kFloat64));
  arrays["sigma"] = from_tensor(stats.sigma.to(torch::kFloat64));
  arrays["n"] = NpyArray::from<int64_t>({}, &stats.n);
  const std::string meta = stats.meta.dump();
  arrays["meta"] = NpyArray::from<uint8_t>({static_cast<int64_t>(meta.size())},
                                           reinterpret_cast<const uint8_t*>(meta.data()));
  write_npz(path, arrays);
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
