#include "metrics/target_spread.h"

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

TargetSpread target_spread(const torch::Tensor& draws, const torch::Tensor& reference, const torch::Tensor& bucket,
                           int64_t buckets) {
  if (draws.dim() < 2 || draws.size(1) < 2)
    throw InputError("target statistics: need at least 2 draws per probe");
  const int64_t p = draws.size(0), m = draws.size(1);
  if (reference.size(0) != p || bucket.numel() != p || reference.numel() * m != draws.numel())
    throw InputError(fmt::format("target statistics: {} probes of draws, {} references, {} buckets", p,
                                 reference.size(0), bucket.numel()));
  const auto y = draws.to(torch::kFloat64).reshape({p, m, -1});
  const double d = static_cast<double>(y.size(2));
  const auto mean = y.mean(1);
  const auto variance = (y - mean.unsqueeze(1)).square().sum({1, 2}) / ((m - 1) * d);
  const auto bias2 = (mean - reference.to(torch::kFloat64).reshape({p, -1})).square().sum(1) / d - variance / m;
  TargetSpread out;
  const auto b = bucket.to(torch::kInt64).reshape({p});
  double var_sum = 0, bias_sum = 0;
  int64_t filled = 0;
  for (int64_t i = 0; i < buckets; ++i) {
    const auto in = b == i;
    const int64_t count = in.sum().item<int64_t>();
    out.probes.push_back(count);
    out.variance.push_back(count ? variance.masked_select(in).mean().item<double>() : 0.0);
    out.bias2.push_back(count ? bias2.masked_select(in).mean().item<double>() : 0.0);
    if (count) {
      var_sum += out.variance.back();
      bias_sum += out.bias2.back();
      ++filled;
    }
  }
  if (filled) {
    out.mean_variance = var_sum / filled;
    out.mean_bias2 = bias_sum / filled;
  }
  return out;
}

}  // namespace cmbench
