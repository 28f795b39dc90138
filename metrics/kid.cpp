#include "metrics/kid.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/numpy_random.h"

namespace cmbench {

namespace {

void check_features(const torch::Tensor& x, const char* which) {
  if (!x.defined() || x.dim() != 2) throw InputError(fmt::format("KID: {} features must be a (N, D) matrix", which));
  if (!x.is_floating_point()) throw InputError(fmt::format("KID: {} features must be floating point", which));
  if (x.size(1) < 1) throw InputError(fmt::format("KID: {} features have no columns", which));
  if (!torch::isfinite(x).all().item<bool>()) throw InputError(fmt::format("KID: {} features contain NaN or Inf", which));
}

torch::Tensor polynomial_kernel(const torch::Tensor& x, const torch::Tensor& y, double gamma, double coef0,
                                int64_t degree) {
  return (torch::matmul(x, y.t()) * gamma + coef0).pow(degree);
}

}  // namespace

double mmd2_unbiased(const torch::Tensor& k_xx, const torch::Tensor& k_xy, const torch::Tensor& k_yy) {
  const int64_t m = k_xx.size(0);
  if (m < 2 || k_xx.sizes() != k_xy.sizes() || k_xx.sizes() != k_yy.sizes() || k_xx.size(1) != m) {
    throw InputError("KID: the kernel matrices must be square, of one size m >= 2");
  }
  const double xx = k_xx.sum().item<double>() - k_xx.diagonal().sum().item<double>();
  const double yy = k_yy.sum().item<double>() - k_yy.diagonal().sum().item<double>();
  const double xy = k_xy.sum().item<double>();
  const double md = static_cast<double>(m);
  return (xx + yy) / (md * (md - 1.0)) - 2.0 * xy / (md * md);
}

KidResult kernel_inception_distance(const torch::Tensor& features_1, const torch::Tensor& features_2,
                                    const KidOptions& options) {
  check_features(features_1, "first");
  check_features(features_2, "second");
  if (features_1.size(1) != features_2.size(1)) {
    throw InputError(fmt::format("KID: feature widths differ ({} vs {})", features_1.size(1), features_2.size(1)));
  }
  const int64_t n1 = features_1.size(0), n2 = features_2.size(0), m = options.subset_size();
  if (options.subsets() < 1) throw InputError(fmt::format("KID: subsets must be positive, got {}", options.subsets()));
  if (m < 2) throw InputError(fmt::format("KID: subset size must be at least 2, got {}", m));
  if (m > n1 || m > n2) {
    // torch-fidelity refuses this too (it does not clamp the subset size).
    throw InputError(fmt::format("KID: subset size {} exceeds the number of feature vectors (first set {}, second "
                                 "set {}); lower the subset size or give more samples",
                                 m, n1, n2));
  }
  if (options.degree() < 1) throw InputError(fmt::format("KID: kernel degree must be positive, got {}", options.degree()));
  if (options.seed() < 0 || options.seed() > int64_t{std::numeric_limits<uint32_t>::max()}) {
    throw InputError(fmt::format("KID: seed must be in [0, 2^32 - 1], got {}", options.seed()));
  }
  const auto x_all = features_1.to(torch::kFloat64);
  const auto y_all = features_2.to(torch::kFloat64);
  const double gamma = options.gamma() > 0 ? options.gamma() : 1.0 / static_cast<double>(features_1.size(1));
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64);

  NumpyRandomState rng(static_cast<uint32_t>(options.seed()));
  KidResult result;
  result.subsets.reserve(static_cast<size_t>(options.subsets()));
  for (int64_t s = 0; s < options.subsets(); ++s) {
    // Two draws from the one generator per subset, first set first (choice = permutation(n)[:m]).
    const auto i1 = torch::tensor(rng.choice_without_replacement(n1, m), index_options).to(x_all.device());
    const auto i2 = torch::tensor(rng.choice_without_replacement(n2, m), index_options).to(y_all.device());
    const auto x = x_all.index_select(0, i1);
    const auto y = y_all.index_select(0, i2);
    const auto k_xx = polynomial_kernel(x, x, gamma, options.coef0(), options.degree());
    const auto k_yy = polynomial_kernel(y, y, gamma, options.coef0(), options.degree());
    const auto k_xy = polynomial_kernel(x, y, gamma, options.coef0(), options.degree());
    result.subsets.push_back(mmd2_unbiased(k_xx, k_xy, k_yy));
  }
  double sum = 0.0;
  for (double v : result.subsets) sum += v;
  result.mean = sum / static_cast<double>(result.subsets.size());
  double squares = 0.0;
  for (double v : result.subsets) squares += (v - result.mean) * (v - result.mean);
  result.std = std::sqrt(squares / static_cast<double>(result.subsets.size()));
  return result;
}

}  // namespace cmbench
