#include "metrics/selftest_inception.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/npy.h"
#include "core/npy_torch.h"
#include "metrics/detector.h"
#include "metrics/inception.h"
#include "metrics/preprocess.h"

namespace cmbench {

std::vector<SelftestEntry> run_inception_selftest(const std::string& path, int64_t batch) {
  const auto arrays = read_npz(path);
  const auto seed_it = arrays.find("seed");
  if (seed_it == arrays.end() || seed_it->second.numel() != 1) {
    throw InputError(fmt::format("{}: no scalar 'seed' array", path));
  }
  const double seed_value = seed_it->second.to_doubles()[0];
  if (seed_value < 0 || seed_value > 4294967295.0) throw InputError(fmt::format("{}: 'seed' out of range", path));
  auto net = load_native_inception(fmt::format("synthetic:{}", static_cast<uint64_t>(seed_value)));
  torch::NoGradGuard no_grad;

  std::vector<SelftestEntry> entries;
  for (const auto& [key, array] : arrays) {
    if (key.rfind("images_", 0) != 0) continue;
    const std::string suffix = key.substr(7);
    if (array.dtype != DType::u8 || array.shape.size() != 4) {
      throw InputError(fmt::format("{}: '{}' must be uint8 (N, H, W, C), found {} {}", path, key,
                                   dtype_name(array.dtype), array.shape_string()));
    }
    const auto images = to_tensor(array);
    for (const std::string mode : {"tf", "pytorch"}) {
      const std::string pool_key = fmt::format("pool3_{}_{}", mode, suffix);
      const std::string logits_key = fmt::format("logits_unbiased_{}_{}", mode, suffix);
      if (!arrays.count(pool_key) && !arrays.count(logits_key)) continue;
      std::vector<torch::Tensor> pools, logits;
      for (int64_t b = 0; b < images.size(0); b += batch) {
        const auto x = preprocess_for_inception(images.slice(0, b, std::min(b + batch, images.size(0))),
                                                parse_resize_mode(mode));
        auto out = net->forward(x, true);
        pools.push_back(out.pool3);
        logits.push_back(out.logits_unbiased);
      }
      const std::pair<std::string, torch::Tensor> got[] = {{pool_key, torch::cat(pools)},
                                                           {logits_key, torch::cat(logits)}};
      for (const auto& [want_key, value] : got) {
        const auto it = arrays.find(want_key);
        if (it == arrays.end()) continue;
        const auto want = to_tensor(it->second).to(torch::kFloat64);
        if (want.sizes() != value.sizes()) {
          throw InputError(fmt::format("{}: '{}' has shape {}, the network gives [{}]", path, want_key,
                                       it->second.shape_string(), fmt::join(value.sizes(), ", ")));
        }
        const double scale = want.abs().max().item<double>();
        const double diff = (value.to(torch::kFloat64) - want).abs().max().item<double>();
        entries.push_back({want_key, scale > 0 ? diff / scale : diff});
      }
    }
  }
  if (entries.empty()) throw InputError(fmt::format("{}: no images_K arrays with pool3/logits to check", path));
  return entries;
}

}  // namespace cmbench
